"""inp20 item 4: an error found in one partition of a ``--partitions`` run counted that
partition's bad lines only (``1 value(s) cannot be read ... (first offending lines: 12)``
where the file has 8, from line 2); it is now the in-memory run's error for the same file:
the whole file's count and first lines."""

from __future__ import annotations

from pathlib import Path

import pytest

import attribution

N = 60


GOOD_TOUCH = "c{i},email,2025-02-01T09:00:00Z"
GOOD_STAGE = "c{i},closed_won,2025-03-01T00:00:00Z,100"
CASES = {  # a bad cell on every 7th row (lines 5, 12, 19, ...), spread over the partitions
    "timestamp": ("c{i},email,{odd}", GOOD_STAGE),
    "channel": ("c{i},{odd},2025-02-01T09:00:00Z", GOOD_STAGE),
    "value": (GOOD_TOUCH, "c{i},closed_won,2025-03-01T00:00:00Z,{odd}"),
}


def _cells(case: str, tmp_path: Path) -> tuple[Path, Path]:
    touch, stage = CASES[case]
    bad = {"timestamp": "2/21/2025 1:19 PM", "channel": "", "value": "-5"}[case]
    good = {"timestamp": "2025-02-01T09:00:00Z", "channel": "email", "value": "100"}[case]
    rows_t = ["contact_id,channel,timestamp"]
    rows_s = ["contact_id,stage,timestamp,value"]
    for i in range(N):
        cell = bad if i % 7 == 3 else good
        rows_t.append(touch.replace("{odd}", cell).format(i=i))
        rows_s.append(stage.replace("{odd}", cell).format(i=i))
    (tmp_path / "t.csv").write_text("\n".join(rows_t) + "\n")
    (tmp_path / "s.csv").write_text("\n".join(rows_s) + "\n")
    return tmp_path / "t.csv", tmp_path / "s.csv"


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("partitions", [2, 4])
def test_a_partitions_error_is_the_whole_files(
    tmp_path: Path, case: str, partitions: int
) -> None:
    touches, stages = _cells(case, tmp_path)
    with pytest.raises(attribution.InputError) as memory:
        attribution.attribute(touches, stages, models=["linear"])
    with pytest.raises(attribution.InputError) as split:
        attribution.attribute_partitioned(touches, stages, partitions=partitions,
                                          models=["linear"])  # fmt: skip
    assert str(split.value) == str(memory.value)
    assert split.value.lines == [5, 12, 19, 26, 33]  # the file's first five of nine
    assert str(N // 7 + (N % 7 > 3)) in str(split.value)  # 9 bad rows


def test_the_count_is_the_files(tmp_path: Path) -> None:
    touches, stages = _cells("timestamp", tmp_path)
    with pytest.raises(attribution.InputError, match=r"9 value\(s\) cannot be read"):
        attribution.attribute_partitioned(touches, stages, partitions=3, models=["linear"])
