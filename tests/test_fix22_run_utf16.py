"""``attribution run`` reads UTF-16 text (Excel "Unicode Text", PowerShell's ``>``,
LinkedIn's "CSV") as ``import ads`` does (3340149): it gave the iconv hint. Decoded by one
reader (inputs/_utf16.py) to a UTF-8 copy; errors, the manifest and its hash name the
user's file and its own lines."""

from __future__ import annotations

import codecs
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli._app import app

TOUCHES = "timestamp,contact_id,channel\n" + "".join(
    f"2025-01-0{1 + i % 3}T10:00:00Z,c{i},{['linkedin', 'google', 'email'][i % 3]}\n"
    for i in range(9)
)
STAGES = "timestamp,contact_id,stage,value\n" + "".join(
    f"2025-01-05T10:00:00Z,c{i},closed_won,{100 * (i + 1)}\n" for i in range(9)
)


def _write(path: Path, text: str, encoding: str) -> Path:
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    path.write_bytes(bom.get(encoding, b"") + text.encode(encoding))
    return path


@pytest.mark.parametrize("partitions", [0, 2])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_run_equals_the_utf8_one(tmp_path: Path, encoding: str, partitions: int) -> None:
    plain = (_write(tmp_path / "t8.csv", TOUCHES, "utf-8"),
             _write(tmp_path / "s8.csv", STAGES, "utf-8"))  # fmt: skip
    wide = (_write(tmp_path / "t16.csv", TOUCHES, encoding),
            _write(tmp_path / "s16.tsv", STAGES.replace(",", "\t"), encoding))  # fmt: skip

    def run(touches: Path, stages: Path) -> attribution.RunResult:
        if partitions:
            return attribution.attribute_partitioned(touches, stages, models=["linear"],
                                                     partitions=partitions)  # fmt: skip
        return attribution.attribute(touches, stages, models=["linear"])

    want, got = run(*plain), run(*wide)
    assert got.channel_credit.equals(want.channel_credit)
    assert got.manifest["totals"] == want.manifest["totals"]
    inputs = got.manifest["inputs"]
    assert inputs["touches"]["source"] == str(wide[0])
    assert inputs["touches"]["encoding"] == "UTF-16"
    assert "encoding" not in want.manifest["inputs"]["touches"]


def test_an_error_names_the_utf16_file_and_its_line(tmp_path: Path) -> None:
    bad = TOUCHES.replace("2025-01-03T10:00:00Z,c2", "yesterday,c2")  # line 4
    touches = _write(tmp_path / "touches.csv", bad, "utf-16-le")
    stages = _write(tmp_path / "stages.csv", STAGES, "utf-8")
    with pytest.raises(attribution.InputError) as caught:
        attribution.attribute(touches, stages, models=["linear"])
    assert caught.value.source == str(touches)
    assert caught.value.lines == [4]
    assert "attribution-utf16" not in str(caught.value)


def test_the_cli_says_it_and_hashes_the_users_file(tmp_path: Path) -> None:
    touches = _write(tmp_path / "touches.csv", TOUCHES, "utf-16-le")
    stages = _write(tmp_path / "stages.ndjson", "".join(
        json.dumps(dict(zip(["timestamp", "contact_id", "stage", "value"], line.split(","),
                            strict=True))) + "\n"
        for line in STAGES.splitlines()[1:]), "utf-16-le")  # fmt: skip
    done = CliRunner().invoke(app, ["run", "--touches", str(touches), "--stages", str(stages),
                                    "-m", "linear", "--out", str(tmp_path / "runs")])
    assert done.exit_code == 0, done.output
    assert "the file is UTF-16 text: read as such" in done.output
    (run,) = (tmp_path / "runs").glob("2*")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["inputs"]["touches"]["sha256"] == hashlib.sha256(
        touches.read_bytes()).hexdigest()
    assert manifest["inputs"]["stages"]["encoding"] == "UTF-16"
    assert manifest["reconciliation"]["conversions"] == 9


def test_a_file_beyond_the_limit_keeps_the_hint(tmp_path: Path, monkeypatch) -> None:
    from attribution.inputs import _utf16

    monkeypatch.setattr(_utf16, "UTF16_MAX_BYTES", 10)
    touches = _write(tmp_path / "touches.csv", TOUCHES, "utf-16-le")
    with pytest.raises(attribution.InputError, match="iconv -f utf-16"):
        attribution.attribute(touches, _write(tmp_path / "s.csv", STAGES, "utf-8"))
