"""A ``--partitions`` run says and reads what an in-memory run does (inp20's leftovers):

- a ``>`` in a channel name (found when journeys are built, after the load) was said of one
  partition's rows (``first offending lines: 5, 12, 19, 40, 47`` where the file's are 5, 12,
  19, 26, 33): now the whole file's error, as in memory;
- a ``;``-separated file's ``4.744`` (and a money column's ``$1.234``) was judged on each
  partition's values: a file whose ``12.50`` shows its dots are decimal points read in
  memory (4.744) but was refused by the partitions without that row. Now judged once, on the
  whole file: read where memory reads it, refused (with the file's lines) where it refuses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import attribution

N = 40


def _memory(touches: Path, stages: Path) -> attribution.RunResult:
    return attribution.attribute(touches, stages, models=["linear"])


def _split(touches: Path, stages: Path, partitions: int) -> attribution.RunResult:
    return attribution.attribute_partitioned(touches, stages, partitions=partitions,
                                             models=["linear"])  # fmt: skip


def _files(tmp_path: Path, sep: str, channel: str = "email", value: str = "100",
           evidence: str | None = None) -> tuple[Path, Path]:  # fmt: skip
    """Touches and won deals of N contacts; every 7th row (lines 5, 12, ...) with ``channel``
    and ``value``, row 5 (line 7) with ``evidence`` as its value when given."""
    touches, stages = [f"contact_id{sep}channel{sep}timestamp"], [
        f"contact_id{sep}stage{sep}timestamp{sep}value"
    ]
    for i in range(N):
        odd = i % 7 == 3
        v = evidence if evidence is not None and i == 5 else (value if odd else "100")
        touches.append(f"c{i}{sep}{channel if odd else 'email'}{sep}2025-02-01T09:00:00Z")
        stages.append(f'c{i}{sep}closed_won{sep}2025-03-01T00:00:00Z{sep}"{v}"')
    (tmp_path / "t.csv").write_text("\n".join(touches) + "\n")
    (tmp_path / "s.csv").write_text("\n".join(stages) + "\n")
    return tmp_path / "t.csv", tmp_path / "s.csv"


@pytest.mark.parametrize("partitions", [2, 4])
def test_a_separator_in_a_channel_is_the_whole_files_error(tmp_path: Path, partitions: int) -> None:
    touches, stages = _files(tmp_path, ",", channel="linked > in")
    with pytest.raises(attribution.InputError) as memory:
        _memory(touches, stages)
    with pytest.raises(attribution.InputError) as split:
        _split(touches, stages, partitions)
    assert memory.value.lines == [5, 12, 19, 26, 33]
    assert str(split.value) == str(memory.value)


@pytest.mark.parametrize("partitions", [2, 4])
def test_in_an_event_log_too(tmp_path: Path, partitions: int) -> None:
    rows = ["contact_id,event_type,channel,timestamp,value,stage"]
    for i in range(N):
        channel = "linked > in" if i % 7 == 3 else "email"
        rows += [f"c{i},touch,{channel},2025-02-01T09:00:00Z,,",
                 f"c{i},stage,,2025-03-01T00:00:00Z,100,closed_won"]  # fmt: skip
    events = tmp_path / "events.csv"
    events.write_text("\n".join(rows) + "\n")
    with pytest.raises(attribution.InputError) as memory:
        attribution.attribute(events, models=["linear"])
    with pytest.raises(attribution.InputError) as split:
        attribution.attribute_partitioned(events, partitions=partitions, models=["linear"])
    assert memory.value.lines == [8, 22, 36, 50, 64]
    assert str(split.value) == str(memory.value)


@pytest.mark.parametrize(
    ("sep", "value", "evidence", "read"),
    [(";", "4.744", "12.50", 4.744), (",", "$1.234", "$12.50", 1.234)],
)
@pytest.mark.parametrize("partitions", [2, 4])
def test_dots_are_judged_on_the_whole_file(
    tmp_path: Path, partitions: int, sep: str, value: str, evidence: str, read: float
) -> None:
    touches, stages = _files(tmp_path, sep, value=value, evidence=evidence)
    expected = 100 * (N - 7) + 6 * read + 12.50  # 6 rows of value, row 5 the evidence
    memory = _memory(touches, stages).manifest["totals"]["conversions_value"]
    assert memory == pytest.approx(expected)
    split = _split(touches, stages, partitions).manifest["totals"]["conversions_value"]
    assert split == pytest.approx(memory)


@pytest.mark.parametrize(("sep", "value"), [(";", "4.744"), (",", "$1.234")])
@pytest.mark.parametrize("partitions", [2, 4])
def test_a_file_that_does_not_tell_is_refused_with_its_lines(
    tmp_path: Path, partitions: int, sep: str, value: str
) -> None:
    touches, stages = _files(tmp_path, sep, value=value)
    with pytest.raises(attribution.SchemaError) as memory:
        _memory(touches, stages)
    with pytest.raises(attribution.SchemaError) as split:
        _split(touches, stages, partitions)
    assert memory.value.lines == [5, 12, 19, 26, 33]
    assert str(split.value) == str(memory.value)
