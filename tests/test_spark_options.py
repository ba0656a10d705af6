"""Every run option on Spark is honoured or refused, never left out silently: an option the
Spark executor cannot honour (``required_roles``, ``as_of`` without the SLAs,
``decision_model`` without the B2B stage, a layout Spark does not write) is a ConfigError
naming it and what to do, exit 2 from the job before Spark starts. On a real local Spark."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import spark_missing

import attribution
from attribution import B2BInputs, ConfigError, RunOptions

if (_why := spark_missing()) is not None:
    pytest.skip(_why, allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

from attribution.engine._spark import NOT_ON_SPARK, _to_spark  # noqa: E402
from attribution.engine._spark_options import SPARK_HONOURS, SPARK_LIMITS  # noqa: E402
from attribution.spark import attribute_spark, main  # noqa: E402

TOUCHES = pl.DataFrame(
    {
        "touch_id": ["t1", "t2", "t3", "t4"],
        "contact_id": ["c1", "c1", "c2", "c2"],
        "account_id": ["a1", "a1", "a2", "a2"],
        "channel": ["email", "webinar", "email", "ads"],
        "touch_type": ["click", "attend", "click", "sales_call"],
        "timestamp": ["2025-01-01T00:00:00", "2025-01-03T00:00:00", "2025-01-02T00:00:00",
                      "2025-01-04T00:00:00"],
    }
).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))  # fmt: skip
STAGES = pl.DataFrame(
    {
        "contact_id": ["c1", "c2", "c2"],
        "account_id": ["a1", "a2", "a2"],
        "stage": ["closed_won", "mql", "closed_won"],
        "timestamp": ["2025-01-10T00:00:00", "2025-01-03T00:00:00", "2025-01-12T00:00:00"],
    }
).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))  # fmt: skip


def test_every_run_option_is_honoured_or_refused_on_spark() -> None:
    names = {f.name for f in dataclasses.fields(RunOptions) if not f.name.startswith("_")}
    placed = [*NOT_ON_SPARK, *SPARK_LIMITS, *SPARK_HONOURS, "bootstrap"]
    assert sorted(placed) == sorted(names)  # each once: a new option must be placed


@pytest.mark.parametrize(
    ("keywords", "named"),
    [
        ({"level": "account", "required_roles": ["champion"]},
         "required_roles (--required-roles) is not available on Spark: the buying-committee"),
        ({"level": "account", "as_of": "2025-01-05"},
         "as_of (--as-of) is not available on Spark: the account engagement it dates"),
        ({"decision_model": "linear"},
         "decision_model (--decision-model) is not available on Spark: the decision model is "
         "chosen by the B2B stage"),
        ({"touch_credit_layout": "wide"},
         "touch_credit_layout (--touch-credit-layout) is not available on Spark"),
        ({"influence_layout": "long"},
         "influence_layout (--influence-layout) is not available on Spark"),
    ],
)  # fmt: skip
def test_an_option_spark_cannot_honour_is_refused_naming_it(
    spark: SparkSession, keywords: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        attribute_spark(
            _to_spark(spark, TOUCHES), _to_spark(spark, STAGES), models=["linear"],
            partitions=2, **keywords,
        )  # fmt: skip
    assert str(caught.value).startswith(named)
    assert getattr(caught.value, "option", None) == next(iter(set(keywords) - {"level"}))


def test_what_spark_honours_runs(spark: SparkSession) -> None:
    """The same options where Spark honours them: the long layout, as_of with the SLAs (it
    sets their as-of time), decision_model with the B2B stage."""
    run = attribute_spark(
        _to_spark(spark, TOUCHES), _to_spark(spark, STAGES), models=["linear", "last_touch"],
        partitions=2, level="account", as_of="2025-01-05", decision_model="last_touch",
        touch_credit_layout="long", b2b=B2BInputs(touches=TOUCHES, stages=STAGES, sla=True),
    )  # fmt: skip
    assert run.manifest["decision_model"] == "last_touch"
    (sla,) = [x for x in run.analysis.extras if isinstance(x, attribution.SLA)]
    assert sla.counts["as_of"] == "2025-01-05T23:59:59.999999+00:00"
    assert sla.counts["as_of_from"] == "the as_of option"
    run.unpersist()


def test_the_job_refuses_before_spark_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    TOUCHES.write_parquet(tmp_path / "touches.parquet")
    STAGES.write_parquet(tmp_path / "stages.parquet")
    base = ["--touches", str(tmp_path / "touches.parquet"), "--stages",
            str(tmp_path / "stages.parquet"), "--out", str(tmp_path / "run"), "-m", "linear"]
    for extra, named in (
        (["--level", "account", "--required-roles", "champion"], "required_roles"),
        (["--level", "account", "--as-of", "2025-01-05"], "as_of"),
        (["--touch-credit-layout", "wide"], "touch_credit_layout"),
    ):  # fmt: skip
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {named} (--"), err
        assert "is not available on Spark" in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
