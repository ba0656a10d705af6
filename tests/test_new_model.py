"""Adding a model is one module and one registry entry: a model class written here (a
``PathModel``) and registered for the test is run by the engine, written to the run
directory, drawn in the report and listed by the CLI, with no other change."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.models._allocation import PathSequences
from attribution.models._estimator import ChannelWeightModel
from attribution.models._registry import _REGISTRY, ModelSpec, Param


class TouchShareModel(ChannelWeightModel):
    """Credit each channel in proportion to its touches on converting paths (raised to
    ``power``)."""

    registry_name = "touch_share"
    extra_table_attributes = ("touch_counts_",)

    def __init__(self, *, power: float = 1.0) -> None:
        self.power = power

    def _fit_sequences(self, paths: PathSequences) -> None:
        pid = paths.touches.get_column("pid").to_numpy()
        ch = paths.touches.get_column("ch").to_numpy()
        converted = paths.paths.get_column("conversions").to_numpy()[pid]
        counts = np.bincount(ch, weights=converted, minlength=len(paths.channels))
        self.total_conversions_ = float(paths.paths.get_column("conversions").sum())
        self.total_value_ = float(paths.paths.get_column("value").sum())
        self.touch_counts_ = pl.DataFrame({"channel": paths.channels, "touches": counts})
        self._set_channel_credit(paths.channels, counts**self.power, counts**self.power)
        self.notes_ = [*paths.notes, "a model written in a test"]


SPEC = ModelSpec(
    "touch_share",
    "data",
    "Credit by touches on converting paths (a test model).",
    (Param("power", "float", 1.0, "exponent of the touch counts", low=0.0, high=4.0),),
    lambda params: TouchShareModel(**params),
)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_REGISTRY, SPEC.name, SPEC)


@pytest.fixture
def data(make_touches, make_stages) -> tuple[pl.DataFrame, pl.DataFrame]:
    touches = make_touches(
        [
            ("t1", "c1", "linkedin", 0),
            ("t2", "c1", "email", 3),
            ("t3", "c1", "email", 5),
            ("t4", "c2", "webinar", 1),
            ("t5", "c2", "linkedin", 2),
            ("t6", "c3", "email", 4),
        ]
    )
    stages = make_stages([("c1", "closed_won", 10, 300.0), ("c2", "closed_won", 12, 100.0)])
    return touches, stages


@pytest.mark.usefixtures("registered")
def test_a_registered_model_runs_end_to_end(data, tmp_path: Path) -> None:
    assert "touch_share" in attribution.default_models()
    result = attribution.attribute(*data, models=["linear", "touch_share:power=2"])
    label = "touch_share(power=2)"
    credit = result.touch_credit.filter(pl.col("model") == label)
    per_conversion = credit.group_by("conversion_id").agg(pl.col("credit").sum())
    assert per_conversion.height == 2
    assert per_conversion.get_column("credit").to_list() == pytest.approx([1.0, 1.0])
    assert (credit.get_column("credit") >= 0).all()
    shares = dict(
        result.channel_credit.filter(pl.col("model") == label).select("channel", "share").rows()
    )
    # converting touches: email 2, linkedin 2, webinar 1 -> squared 4, 4, 1
    assert shares == pytest.approx({"email": 4 / 9, "linkedin": 4 / 9, "webinar": 1 / 9})
    assert f"{label}: a model written in a test" in result.manifest["notes"]

    run = result.write(tmp_path, run_id="r1")
    table = pl.read_parquet(run / attribution.RunFiles.extra(label, "touch_counts"))
    assert dict(table.rows()) == {"email": 2.0, "linkedin": 2.0, "webinar": 1.0}
    html = (run / attribution.RunFiles.REPORT).read_text()
    assert "What the other models learned" in html
    assert "touch_share_power=2_: touch counts" in html


@pytest.mark.usefixtures("registered")
def test_a_registered_model_is_checked_by_its_entry(data) -> None:
    with pytest.raises(attribution.ModelParameterError, match=r"must be a float in \[0.0, 4.0\]"):
        attribution.attribute(*data, models=["touch_share:power=9"])
    with pytest.raises(attribution.ModelParameterError, match=r"must be a float in \[0.0, 4.0\]"):
        TouchShareModel(power=-1.0).fit(attribution.attribute(*data, models=["linear"]).paths)


@pytest.mark.usefixtures("registered")
def test_the_cli_lists_a_registered_model() -> None:
    from attribution.cli._app import app

    out = CliRunner().invoke(app, ["models"], env={"COLUMNS": "240"})
    assert out.exit_code == 0, out.output
    assert "touch_share" in out.output
    assert "Credit by touches on converting paths" in out.output


def test_the_report_takes_its_first_models_from_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from attribution.report._charts import preferred_models, visible_models
    from attribution.report._economics import headline_models, pick_model

    assert preferred_models() == [
        "first_touch", "last_touch", "linear", "w_shaped", "markov", "shapley"
    ]  # fmt: skip
    assert headline_models() == ["markov", "shapley", "linear", "w_shaped"]
    many = ["linear", "position_based", "u_shaped", "j_shaped", "inverse_j", "touch_share"]
    assert "touch_share" not in visible_models(many)
    assert pick_model(["first_touch", "touch_share", "w_shaped"]) == "w_shaped"
    monkeypatch.setitem(_REGISTRY, SPEC.name, replace(SPEC, prominence="headline"))
    assert "touch_share" in visible_models(many)
    assert pick_model(["first_touch", "touch_share", "w_shaped"]) == "touch_share"
