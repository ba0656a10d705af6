"""exclude_touch_types: sales follow-ups (or any touch type) left out of the journeys, counted,
the same in every executor, named in errors."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.exceptions import InputError

SALES = ["sales_call", "Sales_Email ", "meeting"]
MODELS = ["linear", "w_shaped", "markov", "shapley"]


@pytest.fixture(scope="module")
def data(make_touches, make_stages) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Six contacts with marketing touches and, after their MQL, sales touches; the sales
    touches' types in mixed spellings."""
    channels = ["linkedin", "google_ads", "email", "webinar"]
    types = ["sales_call", " SALES_EMAIL", "Meeting", "sales_call"]
    touches, stages, n = [], [], 0
    for c in range(6):
        contact = f"c{c}"
        for d in range(c % 3 + 2):
            n += 1
            touches.append((f"t{n:03d}", contact, channels[(c + d) % 4], 10 + 5 * d + c / 10))
        for d in range(c % 2 + 1):
            n += 1
            touches.append((f"s{n:03d}", contact, "sales", 40 + d + c / 10))
        stages.append((contact, "mql", 35 + c / 10, None))
        if c != 5:
            stages.append((contact, "closed_won", 60 + c, float(1000 * (c + 1))))
    frame = make_touches(touches)
    frame = frame.with_columns(
        touch_type=pl.when(pl.col("channel") == "sales")
        .then(pl.int_range(pl.len()).map_elements(lambda i: types[i % 4], return_dtype=pl.String))
        .otherwise(pl.lit("click"))
    )
    return frame, make_stages(stages)


def _without_sales(touches: pl.DataFrame) -> pl.DataFrame:
    return touches.filter(pl.col("channel") != "sales")


def test_excluded_touches_are_left_out_and_counted(data) -> None:
    touches, stages = data
    got = attribution.attribute(touches, stages, models=MODELS, exclude_touch_types=SALES)
    expected = attribution.attribute(_without_sales(touches), stages, models=MODELS)
    by = ["model", "conversion_id", "touch_id"]
    assert_frame_equal(got.touch_credit.sort(by), expected.touch_credit.sort(by),
                       abs_tol=1e-12, rel_tol=0)
    assert "sales" not in got.channel_credit.get_column("channel").to_list()
    counts = got.manifest["reconciliation"]
    n_sales = touches.filter(pl.col("channel") == "sales").height
    assert counts["touches_dropped"]["excluded_touch_type"] == n_sales > 0
    assert counts["touches_in"] == touches.height
    assert got.manifest["parameters"]["exclude_touch_types"] == [
        "sales_call", "sales_email", "meeting"]
    with_sales = attribution.attribute(touches, stages, models=["linear"])
    assert "sales" in with_sales.channel_credit.get_column("channel").to_list()


@pytest.mark.parametrize("partitions", [1, 3])
def test_partitioned_executor_excludes_the_same_touches(data, partitions) -> None:
    touches, stages = data
    memory = attribution.attribute(touches, stages, models=MODELS, exclude_touch_types=SALES)
    got = attribution.attribute_partitioned(touches, stages, models=MODELS,
                                            exclude_touch_types=SALES, partitions=partitions)
    by = ["model", "channel"]
    assert_frame_equal(got.channel_credit.sort(by), memory.channel_credit.sort(by),
                       abs_tol=1e-12, rel_tol=0)
    assert got.manifest["reconciliation"] == memory.manifest["reconciliation"]


def test_spark_executor_excludes_the_same_touches(data, spark) -> None:
    from attribution.engine._spark import _to_polars, _to_spark
    from attribution.spark import attribute_spark

    touches, stages = data
    memory = attribution.attribute(touches, stages, models=MODELS, exclude_touch_types=SALES)
    got = attribute_spark(_to_spark(spark, touches), _to_spark(spark, stages), models=MODELS,
                          exclude_touch_types=SALES, partitions=2)
    by = ["model", "channel"]
    assert_frame_equal(_to_polars(got.channel_credit).sort(by), memory.channel_credit.sort(by),
                       abs_tol=1e-12, rel_tol=0)


@pytest.mark.parametrize(("value", "message"), [
    ("sales_call", "exclude_touch_types must be a list of touch_type values; got 'sales_call'"),
    (["sales_call", " "], "exclude_touch_types must be a list of touch_type values; got ' ' in it"),
    ([3], "exclude_touch_types must be a list of touch_type values; got 3 in it"),
])
def test_bad_values_name_the_option(value, message) -> None:
    with pytest.raises(InputError, match="exclude_touch_types") as info:
        attribution.RunOptions(exclude_touch_types=value)
    assert str(info.value).endswith(message)
    assert info.value.option == "exclude_touch_types"


def test_touches_without_a_touch_type_column_are_an_error(data) -> None:
    touches, stages = data
    with pytest.raises(InputError, match="needs a touch_type column") as info:
        attribution.attribute(touches.drop("touch_type"), stages, models=["linear"],
                              exclude_touch_types=["meeting"])
    assert "exclude_touch_types (meeting)" in str(info.value)


def test_cli_flag_and_config_key(data, tmp_path) -> None:
    from typer.testing import CliRunner

    from attribution.cli import app

    def cli(*args: object):
        return CliRunner().invoke(app, [str(a) for a in args])

    touches, stages = data
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")
    flag = cli("run", "--touches", tmp_path / "t.parquet", "--stages", tmp_path / "s.parquet",
               "-m", "linear", "--exclude-touch-types", "sales_call,sales_email,meeting",
               "--out", tmp_path / "a")
    assert flag.exit_code == 0, flag.output
    assert "excluded_touch_type" in flag.output
    config = tmp_path / "run.toml"
    config.write_text('[run]\nexclude_touch_types = ["sales_call", "sales_email", "meeting"]\n')
    keyed = cli("run", "--config", config, "--touches", tmp_path / "t.parquet", "--stages",
                tmp_path / "s.parquet", "-m", "linear", "--out", tmp_path / "b")
    assert keyed.exit_code == 0, keyed.output
    for out in ("a", "b"):
        (run,) = (tmp_path / out).iterdir()
        credit = pl.read_parquet(run / "channel_credit.parquet")
        assert "sales" not in credit.get_column("channel").to_list()
