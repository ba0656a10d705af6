"""New-user report 10 (a marketing-ops lead with HubSpot exports): each test fails on the code
the report was written against."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from attribution import import_hubspot

HS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hubspot_ui"


def test_a_deal_or_activity_with_a_company_and_no_contact_is_the_companys(tmp_path: Path) -> None:
    """Serious #2: a won deal with its company but a blank 'Associated Contact IDs' vanished
    from the import, uncounted (Polars 2's explode drops a row whose list is empty); the
    README says such a deal is the company's alone. The same for an activity."""
    deals = (HS / "deals.csv").read_text().rstrip("\n") + (
        "\n5099,Gamma new business,Closed Won,12000,2025-02-11 10:00,2025-03-16 16:00,,9003,"
        "Sales Pipeline\n"
    )
    (tmp_path / "deals.csv").write_text(deals)
    engagements = pl.read_csv(HS / "engagements.csv", infer_schema=False)
    engagements = pl.concat(
        [
            engagements.with_columns(pl.lit(None, pl.String).alias("Associated Company IDs")),
            pl.DataFrame(
                {"Activity ID": ["E99"], "Activity type": ["FORM_SUBMISSION"],
                 "Activity date": ["2025-02-01 09:00"], "Associated Contact IDs": [None],
                 "UTM Source": ["linkedin"], "UTM Medium": ["paid_social"],
                 "UTM Campaign": [None], "Associated Company IDs": ["9003"]},
                schema={c: pl.String for c in [*engagements.columns, "Associated Company IDs"]},
            ),  # fmt: skip
        ]
    )
    engagements.write_csv(tmp_path / "engagements.csv")
    got = import_hubspot(
        HS / "contacts.csv", tmp_path / "deals.csv", engagements=tmp_path / "engagements.csv"
    )
    events = got.stages.filter(pl.col("opportunity_id") == "5099")
    assert sorted(events.get_column("stage").to_list()) == ["closed_won", "opportunity"]
    assert events.get_column("contact_id").null_count() == events.height
    assert set(events.get_column("account_id")) == {"9003"}
    # every deal row is kept or counted with its reason (the fixture has one without either)
    files = got.report["files"]["deals"]
    dropped = sum(d["count"] for d in got.report["drops"] if d["file"] == "deals")
    assert files["rows_read"] - files["rows_kept"] == dropped
    touch = got.touches.filter(pl.col("touch_id").str.starts_with("E99"))
    assert touch.height == 1
    assert touch.item(0, "account_id") == "9003"
    assert touch.item(0, "contact_id") is None


def test_a_deal_on_several_companies_is_counted_and_noted(tmp_path: Path) -> None:
    """Minor #5: a deal naming two companies silently took the first."""
    deals = (HS / "deals.csv").read_text().replace(",101;102,9001,", ",101;102,9001;9002,", 1)
    assert "9001;9002" in deals
    (tmp_path / "deals.csv").write_text(deals)
    got = import_hubspot(HS / "contacts.csv", tmp_path / "deals.csv")
    assert got.report["counts"]["deals_on_several_companies"] == 1
    (note,) = [n for n in got.report["notes"] if "several companies" in n]
    assert note.startswith("deals: 1 row(s) name several companies in 'Associated Company IDs'")
    won = got.stages.filter(pl.col("opportunity_id") == "5001")
    assert set(won.get_column("account_id")) == {"9001"}
