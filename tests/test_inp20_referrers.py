"""inp20 item 1 (a PLG user's Segment page views): a touch without a channel column, UTM
source or medium took `direct` whatever its referrer (3,424 touches; G2's reviews credited
with no customer), and the `referrer` column was never read nor said to be unused. The
referrer's host now gives the channel by the [[referrer]] rules of channel_rules.toml; the
touches' own site stays direct; counted and said; a touches column the run does not read
is said once in a NOTE."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app
from attribution.inputs._referrers import host_expr, referrer_columns

# Segment's pages table as a warehouse export writes it (context_* columns)
PAGES = """\
anonymous_id,user_id,timestamp,context_campaign_source,context_campaign_medium,\
context_page_referrer,context_page_url,context_page_title
a1,c1,2025-02-01T09:00:00Z,,,https://www.g2.com/products/acme/reviews,https://www.acme.com/,Acme
a1,c1,2025-02-02T09:00:00Z,,,https://www.acme.com/,https://www.acme.com/pricing,Pricing
a2,c2,2025-02-01T09:00:00Z,,,https://www.google.de/,https://www.acme.com/,Acme
a3,c3,2025-02-01T09:00:00Z,linkedin,cpc,https://www.linkedin.com/,https://www.acme.com/demo,Demo
a4,c4,2025-02-01T09:00:00Z,,,https://lnkd.in/abc,https://www.acme.com/,Acme
a5,c5,2025-02-01T09:00:00Z,,,https://someblog.io/post?x=1,https://www.acme.com/,Acme
a6,c6,2025-02-01T09:00:00Z,,,,https://www.acme.com/,Acme
a7,c7,2025-02-01T09:00:00Z,,,https://docs.acme.com/start,https://app.acme.com/,App
a8,c8,2025-02-01T09:00:00Z,,,https://www.capterra.com/p/1/acme/,https://www.acme.com/,Acme
"""
COLUMNS = {"contact_id": "user_id", "utm_source": "context_campaign_source",
           "utm_medium": "context_campaign_medium"}  # fmt: skip
FIRST = {"c1": "g2_capterra", "c2": "organic_search", "c3": "linkedin", "c4": "organic_social",
         "c5": "referral", "c6": "direct", "c7": "direct", "c8": "g2_capterra"}  # fmt: skip


def _stages() -> pl.DataFrame:
    return pl.DataFrame({"contact_id": list(FIRST), "stage": "closed_won",
                         "timestamp": "2025-03-01T00:00:00Z"})  # fmt: skip


def _options(**kw: object) -> attribution.RunOptions:
    return attribution.RunOptions(models=["first_touch"], columns={"touches": COLUMNS}, **kw)


def _first_channels(result: attribution.AttributionResult) -> dict[str, str]:
    credit = result.touch_credit.filter(pl.col("credit") > 0)
    return dict(credit.select("contact_id", "channel").iter_rows())


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    path = tmp_path / "pages.csv"
    path.write_text(PAGES)
    return path


def test_page_views_without_utm_take_their_referrers_channel(pages: Path) -> None:
    result = attribution.attribute(pages, _stages(), options=_options())
    assert _first_channels(result) == FIRST
    rec = result.manifest["reconciliation"]
    assert rec["touches_channel_from_referrer"] == {
        "g2_capterra": 2, "organic_search": 1, "organic_social": 1, "referral": 1}  # fmt: skip
    assert rec["touches_referrer_own_site"] == 2  # acme.com's own pages, docs. to app.
    [note] = [n for n in result.manifest["notes"] if "referrer's host" in n]
    assert note.startswith("5 touch(es) without a channel, utm_source or utm_medium took")
    assert "(g2_capterra 2, organic_search 1, organic_social 1, referral 1)" in note
    # the columns outside the contract are listed; the referrer and page URL are read
    assert result.manifest["inputs"]["touches"]["columns_not_read"] == [
        "anonymous_id", "context_page_title"]  # fmt: skip


def test_partitions_count_the_same(pages: Path) -> None:
    memory = attribution.attribute(pages, _stages(), options=_options())
    split = attribution.attribute_partitioned(pages, _stages(), partitions=3, options=_options())
    for key in ("touches_channel_from_referrer", "touches_referrer_own_site", "touch_channels"):
        assert split.manifest["reconciliation"][key] == memory.manifest["reconciliation"][key]
    assert split.manifest["inputs"]["touches"]["columns_not_read"] == [
        "anonymous_id", "context_page_title"]  # fmt: skip


def test_own_hosts_and_a_rules_file_without_referrer_rules(pages: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"  # a copy made before the referrer rules, plus own hosts
    rules.write_text('[referrers]\nown_hosts = ["https://someblog.io"]\n\n[[rule]]\n'
                     'channel = "linkedin"\nsource = "linkedin"\n\n[[rule]]\n'
                     'channel = "direct"\nsource = "^$"\n')  # fmt: skip
    result = attribution.attribute(pages, _stages(), options=_options(channel_rules=str(rules)))
    assert _first_channels(result) == {**FIRST, "c5": "direct"}  # someblog.io: their own
    assert result.manifest["reconciliation"]["touches_referrer_own_site"] == 3


def test_a_channel_column_keeps_its_channel_and_the_referrer_is_said_unread(
    tmp_path: Path,
) -> None:
    touches = pl.DataFrame({"contact_id": ["c1"], "channel": ["webinar"],
                            "timestamp": ["2025-02-01T09:00:00Z"],
                            "Page Referrer": ["https://www.g2.com/"]})  # fmt: skip
    path = tmp_path / "t.csv"
    touches.write_csv(path)
    result = attribution.attribute(path, _stages().head(1), models=["linear"])
    assert result.channel_credit.get_column("channel").to_list() == ["webinar"]
    assert result.manifest["inputs"]["touches"]["columns_not_read"] == ["Page Referrer"]
    assert "touches_channel_from_referrer" not in result.manifest["reconciliation"]


def test_the_cli_says_the_unread_columns_once_and_the_referred_touches(
    pages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stages().write_csv(tmp_path / "s.csv")
    (tmp_path / "run.toml").write_text(
        "[columns.touches]\n" + "".join(f'{k} = "{v}"\n' for k, v in COLUMNS.items()))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "--touches", "pages.csv", "--stages", "s.csv",
                                      "-c", "run.toml", "-m", "first_touch", "--out", "runs"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "not read by the run" in line]
    assert said == ["NOTE: touches 'pages.csv': 2 column(s) not read by the run: "
                    "'anonymous_id', 'context_page_title' (a run reads the columns of the input "
                    "contract, README \"Input formats\"; map yours to one in [columns.touches]; "
                    "a referrer gives the channel of a touch without UTM tags only when there "
                    "is no channel column)"]  # fmt: skip
    assert sum("took their channel from their referrer's host" in line
               for line in result.output.splitlines()) == 1  # fmt: skip
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["reconciliation"]["touches_channel_from_referrer"]["g2_capterra"] == 2


@pytest.mark.parametrize(
    ("url", "host"),
    [("https://www.G2.com/products/x?y=1#z", "g2.com"), ("http://user@lnkd.in:443/abc", "lnkd.in"),
     ("android-app://com.google.android.gm/", "com.google.android.gm"), ("google.de", "google.de"),
     ("$direct", None), ("(none)", None), ("", None)],
)  # fmt: skip
def test_hosts(url: str, host: str | None) -> None:
    assert pl.select(host_expr(pl.lit(url, pl.String))).item() == host


@pytest.mark.parametrize(
    ("headers", "found"),
    [(["context_page_referrer", "context_page_url"],
      {"referrer": "context_page_referrer", "page_url": "context_page_url"}),
     (["Page Referrer", "Page Location"],
      {"referrer": "Page Referrer", "page_url": "Page Location"}),
     (["referring_url", "$referrer"], {"referrer": "$referrer"}),  # the first alias wins
     (["referrer"], {}),  # ours already
     (["document.referrer"], {"referrer": "document.referrer"})],
)  # fmt: skip
def test_referrer_aliases(headers: list[str], found: dict[str, str]) -> None:
    assert referrer_columns("touches", headers, {}) == found
    assert referrer_columns("stages", headers, {}) == {}


def test_state_nights_say_the_referrers_and_the_unread_columns(
    pages: Path, tmp_path: Path
) -> None:
    from attribution.engine._incremental import attribute_incremental

    stages = tmp_path / "s.csv"
    _stages().write_csv(stages)
    options = _options(state=str(tmp_path / "state"))
    for night in range(2):  # the full night, then a night with nothing new
        result = attribute_incremental(pages, stages, options=options)
        rec = result.manifest["reconciliation"]
        assert rec["touches_channel_from_referrer"]["g2_capterra"] == 2, night
        assert result.manifest["inputs"]["touches"]["columns_not_read"] == [
            "anonymous_id", "context_page_title"]  # fmt: skip
