"""review20 #2, ``import ga4``: events without a ``ga_session_id`` were dropped before the
identity stitching, so a login event sent outside a session that carried a pseudo id's only
user id was lost (its sessions anonymous). Such events make no touch but their user ids
stitch; they are counted in the report and the printed summary."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from attribution import import_ga4
from attribution.cli._app import app
from tests.test_import_ga4 import event, export

#: p1's two sessions carry no user id; its login event, without a session id, does
EVENTS = [
    event(0, "session_start", "p1", "", "google", "cpc", "s1"),
    event(30, "page_view", "p1", "", "google", "cpc", "s1"),
    event(60, "login", "p1", "Ann@Acme.com", "", "", ""),
    event(3600, "session_start", "p1", "", "newsletter", "email", "s2"),
    event(100, "session_start", "p2", "", "(direct)", "(none)", "s9"),
]


def test_a_login_without_a_session_id_stitches_the_pseudo_ids_sessions(tmp_path: Path) -> None:
    result = import_ga4(export(tmp_path / "events.csv", EVENTS))
    contacts = dict(result.touches.select("touch_id", "contact_id").iter_rows())
    assert contacts == {"p1:s1": "ann@acme.com", "p1:s2": "ann@acme.com", "p2:s9": None}
    counts = result.report["counts"]
    assert counts["events_without_session_id"] == 1
    assert counts["sessions_stitched"] == 2
    assert counts["pseudo_ids_stitched_by_events_without_session_id"] == 1
    assert counts["sessions_stitched_by_events_without_session_id"] == 2
    assert counts["user_ids"] == 1
    # still no touch of its own: read = kept + dropped
    files = result.report["files"]["events"]
    assert (files["rows_read"], files["rows_kept"]) == (5, 4)
    (drop,) = [d for d in result.report["drops"] if "ga_session_id" in d["reason"]]
    assert drop["count"] == 1


def test_a_sessionless_user_id_beside_another_is_a_shared_device(tmp_path: Path) -> None:
    """The stitching rule holds with those events: a pseudo id seen with two user ids (one
    on a session, one on an event without a session) is not stitched."""
    events = [
        *EVENTS[:4],
        event(4000, "page_view", "p1", "bo@globex.com", "newsletter", "email", "s2"),
    ]
    result = import_ga4(export(tmp_path / "events.csv", events))
    contacts = dict(result.touches.select("touch_id", "contact_id").iter_rows())
    assert contacts == {"p1:s1": None, "p1:s2": "bo@globex.com"}
    assert result.report["counts"]["pseudo_ids_with_several_user_ids"] == 1
    assert result.report["counts"]["pseudo_ids_stitched_by_events_without_session_id"] == 0


def test_the_summary_counts_the_events_without_a_session_id(tmp_path: Path) -> None:
    out = tmp_path / "web"
    cli = CliRunner().invoke(app, ["import", "ga4", "--events",
                                   str(export(tmp_path / "events.csv", EVENTS)),
                                   "--out", str(out)])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    text = " ".join(cli.output.split())
    assert "dropped 1 events row(s): no ga_session_id" in text
    assert "1 event(s) have no ga_session_id" in text
    assert "1 pseudo id(s) known only by such events take their user id for 2 session(s)" in text
