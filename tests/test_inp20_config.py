"""inp20 item 4: a config key written under the wrong table (``decimal_comma = true`` under
[run], where it was an unknown key with a did-you-mean among [run]'s keys) names the table
it belongs in."""

from __future__ import annotations

from pathlib import Path

import pytest

import attribution
from attribution.inputs._config import load_config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[run]\ndecimal_comma = true\n",
         r"unknown key 'decimal_comma' in \[run\]; it belongs in \[formats\] "
         r"\(decimal_comma = true\), not in \[run\]"),
        ("decimal_comma = true\n[run]\nlevel = 'contact'\n",  # above every table header
         r"in the top level; it belongs in \[formats\] \(decimal_comma = true\)"),
        ('[run]\nspend = "s.csv"\n', r"in \[run\]; it belongs in \[inputs\] \(spend = \"FILE\"\)"),
        ('[run]\nchannel_rules = "r.toml"\n', r"it belongs in \[taxonomy\] \(rules = \"FILE\"\)"),
        ("[formats]\ntimestamp = ['%d.%m.%Y']\n[economics]\ndecimal_comma = true\n",
         r"in \[economics\]; it belongs in \[formats\]"),
        ("[run]\nlook_back = 3\n", r"in \[run\]; did you mean 'lookback'"),  # as before
    ],
)  # fmt: skip
def test_a_key_under_the_wrong_table_names_its_table(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(attribution.ConfigError, match=message):
        load_config(path)


def test_decimal_comma_under_formats_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[formats]\ndecimal_comma = true\n")
    assert load_config(path).options().decimal_comma is True
