"""Scoring honours the published run's own options (new-user report 12, the scoring-options
gap, and minor #12): a journey sent back to ``POST /v1/attribute`` or through
``JourneyScorer(**snapshot.scoring_options())`` gets exactly the touch credit the batch run
gave it, for runs with non-default conversion stage, milestones, key, lookback, touch cap,
level and role multipliers; touches the run would not credit are dropped and counted
(``touches_dropped``), exact duplicates included; what a journey cannot carry is said in
``notes``. In-process: the library, and the service through TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

import attribution
from attribution import JourneyScorer, ModelSnapshot, SnapshotStore
from service import Settings, create_app

KEY = "fix13-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
ORIGIN = datetime(2025, 3, 1, tzinfo=UTC)
CHANNELS = ["linkedin", "email", "webinar", "direct", "g2", "events"]
CAMPAIGNS = ["spring", "summer", None]
ROLES = ["decision_maker", "champion", "user", None]
#: run A: contact level, its conversion a stage of its own that marks the opportunity
CONTACT_RUN: dict[str, Any] = {
    "models": ["linear", "w_shaped", "full_path", "time_decay:half_life=3d", "last_non_direct",
               "markov", "shapley"],
    "conversion_stage": "sql", "milestones": {"lead": ["mql"], "opportunity": ["sql"]},
    "lookback": "20d", "max_touches_per_journey": 4,
}
#: run B: account level, campaigns as units, buying-committee weighting, the CRM's won name
ACCOUNT_RUN: dict[str, Any] = {
    "models": ["linear", "u_shaped", "position_based", "markov"], "level": "account",
    "role_multipliers": {"decision_maker": 2.0, "champion": 1.5, "user": 0.5},
    "key": "channel/campaign", "stage_names": {"closed_won": ["Won"]},
    "lookback": "25d", "max_touches_per_journey": 5,
}


def at(days: float) -> datetime:
    return ORIGIN + timedelta(days=days)


def world(seed: int, *, accounts: bool) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Touches, stage events and contacts of 30 entities, each converting once after 2-9
    touches over up to 45 days (so some fall outside the lookback and some journeys over
    the cap), with a lead and an opportunity milestone before the conversion."""
    import random

    rng = random.Random(seed)
    touches, stages, contacts = [], [], []
    for e in range(30):
        people = [f"c{e}-{k}" for k in range(rng.randint(1, 3) if accounts else 1)]
        account = f"a{e}"
        contacts += [{"contact_id": person, "account_id": account, "role": rng.choice(ROLES)}
                     for person in people]
        end = 50 + rng.random() * 10
        touches += [{"touch_id": f"t{e}-{k}", "contact_id": rng.choice(people),
                     "channel": rng.choice(CHANNELS), "campaign": rng.choice(CAMPAIGNS),
                     "timestamp": at(end - rng.random() * 45)} for k in range(rng.randint(2, 9))]
        won = "Won" if accounts else "sql"
        stages += [{"contact_id": people[0], "stage": "mql", "timestamp": at(end - 30),
                    "value": None},
                   {"contact_id": people[0], "stage": "sql" if accounts else "opportunity",
                    "timestamp": at(end - 12), "value": None},
                   {"contact_id": people[0], "stage": won, "timestamp": at(end),
                    "value": 1000.0 + e}]
    frame = pl.DataFrame(touches, schema={"touch_id": pl.String, "contact_id": pl.String,
                                          "channel": pl.String, "campaign": pl.String,
                                          "timestamp": pl.Datetime("us", "UTC")})
    return (frame, pl.DataFrame(stages, schema={"contact_id": pl.String, "stage": pl.String,
                                                "timestamp": pl.Datetime("us", "UTC"),
                                                "value": pl.Float64}),
            pl.DataFrame(contacts))


def sent_back(result: attribution.AttributionResult, touches: pl.DataFrame,
              contacts: pl.DataFrame, entity: str) -> list[dict[str, Any]]:
    """Each conversion of the run as the CRM would send it: every touch of its entity up
    to the conversion (those the run left out too), with the run's milestone times."""
    roles = dict(contacts.select("contact_id", "role").rows())
    owner = dict(contacts.select("contact_id", "account_id").rows())
    journeys = []
    for conv in result.conversions.iter_rows(named=True):
        key = conv[entity]
        mine = touches.filter(
            (pl.col("contact_id").replace_strict(owner, default=None) == key
             if entity == "account_id" else pl.col("contact_id") == key)
            & (pl.col("timestamp") <= conv["timestamp"]))
        sent = []
        for t in mine.iter_rows(named=True):
            touch = {"touch_id": t["touch_id"], "timestamp": t["timestamp"].isoformat(),
                     "channel": t["channel"], "contact_id": t["contact_id"]}
            if t["campaign"] is not None:
                touch["campaign"] = t["campaign"]
            if roles.get(t["contact_id"]) is not None and entity == "account_id":
                touch["role"] = roles[t["contact_id"]]
            sent.append(touch)
        milestones = {m: conv[f"{m}_at"].isoformat() for m in ("lead", "opportunity")
                      if conv[f"{m}_at"] is not None}
        journeys.append({"conversion": {"id": conv["conversion_id"],
                                        "timestamp": conv["timestamp"].isoformat(),
                                        "value": conv["value"]},
                         "touches": sent, "milestones": milestones})
    return journeys


def credit_rows(rows: Any, labels: list[str] | None = None, run: list[str] | None = None
                ) -> dict[tuple[str, str, str, str], float]:
    """(model, conversion id, touch id, channel) -> credit; ``labels`` (the scorer's) named
    as the run's (``run``), in order: the run's models sent back as their resolved
    parameters label themselves with every parameter."""
    name = dict(zip(labels, run, strict=True)) if labels and run else {}
    return {(name.get(r["model"], r["model"]), r["conversion_id"], r["touch_id"],
             r["channel"]): r["credit"] for r in rows}


class Published:
    def __init__(self, result: attribution.AttributionResult, snapshot: ModelSnapshot,
                 journeys: list[dict[str, Any]]) -> None:
        self.result, self.snapshot, self.journeys = result, snapshot, journeys
        self.expected = credit_rows(result.touch_credit.iter_rows(named=True))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Published]]:
    runs_dir = tmp_path_factory.mktemp("fix13") / "runs"
    store = SnapshotStore.beside(runs_dir)
    out = {}
    for name, options, accounts in (("contact", CONTACT_RUN, False),
                                    ("account", ACCOUNT_RUN, True)):
        touches, stages, contacts = world(13 if accounts else 7, accounts=accounts)
        result = attribution.attribute(touches, stages, contacts=contacts if accounts else None,
                                       **options)
        # the run cut journeys; touches before a window went to its non-converting paths
        assert result.manifest["reconciliation"]["touches_dropped"]["journey_too_long"]
        snapshot = store.publish(result.write(runs_dir, run_id=name))
        entity = "account_id" if accounts else "contact_id"
        out[name] = Published(result, snapshot, sent_back(result, touches, contacts, entity))
    return runs_dir, out


def test_the_snapshot_gives_every_option_that_changes_a_journeys_credit(
    runs: tuple[Path, dict[str, Published]],
) -> None:
    contact = runs[1]["contact"].snapshot.scoring_options()
    assert contact["conversion_stage"] == "sql"
    assert contact["milestones"]["opportunity"] == ["sql"]
    assert contact["lookback"] == timedelta(days=20)
    assert contact["max_touches_per_journey"] == 4
    account = runs[1]["account"].snapshot.scoring_options()
    assert (account["level"], account["key"]) == ("account", "channel/campaign")
    assert account["role_multipliers"] == ACCOUNT_RUN["role_multipliers"]
    assert [m["name"] for m in account["run_models"]] == ACCOUNT_RUN["models"]


@pytest.mark.parametrize("name", ["contact", "account"])
@pytest.mark.parametrize("engine", ["auto", "fast", "reference"])
def test_a_journey_sent_back_gets_the_runs_touch_credit(
    runs: tuple[Path, dict[str, Published]], name: str, engine: str,
) -> None:
    run = runs[1][name]
    options = run.snapshot.scoring_options()
    scorer = JourneyScorer(models=options["run_models"], **options).fit(
        run.snapshot.read_paths())
    scores = scorer.score(run.journeys, engine=engine)  # type: ignore[arg-type]
    got = credit_rows(scores.touch_credit.iter_rows(named=True), scorer.labels,
                      run.snapshot.run["models"])
    assert got.keys() == run.expected.keys()
    assert max(abs(got[k] - run.expected[k]) for k in got) <= 1e-12
    sums = scores.touch_credit.group_by("model", "conversion_id").agg(pl.col("credit").sum())
    assert sums.get_column("credit").to_list() == pytest.approx([1.0] * sums.height, abs=1e-12)
    assert scores.touch_credit.get_column("credit").min() >= 0  # type: ignore[operator]
    # every touch sent and not credited is counted, by the run's reasons
    sent = sum(len(j["touches"]) for j in run.journeys)
    per_model = scores.touch_credit.height // len(scorer.labels)
    assert sum(scores.touches_dropped.values()) == sent - per_model
    assert scores.touches_dropped["outside_lookback"] > 0
    assert scores.touches_dropped["journey_too_long"] > 0
    assert scorer.small_engine == (options["key"] == "channel")  # campaigns: the general
    if engine == "auto" and scorer.small_engine:
        # the small engine takes every journey sent back (newuser-report18 M3: a touch
        # outside the lookback or a journey over the cap sent them to the general engine,
        # 20-30x slower): the same rows, drops and unattributed
        cut = 0
        for journey in run.journeys:
            alone = scorer.score([journey], engine="small")  # type: ignore[list-item]
            general = scorer.score([journey], engine="fast")  # type: ignore[list-item]
            rows = credit_rows(alone.touch_credit.iter_rows(named=True), scorer.labels,
                               run.snapshot.run["models"])
            assert rows.keys() == credit_rows(general.touch_credit.iter_rows(named=True),
                                              scorer.labels, run.snapshot.run["models"]).keys()
            assert all(abs(rows[k] - run.expected[k]) <= 1e-12 for k in rows)
            assert alone.touches_dropped == general.touches_dropped
            assert alone.unattributed == general.unattributed
            cut += bool(alone.touches_dropped)
        assert cut >= 1


@pytest.fixture(scope="module")
def client(runs: tuple[Path, dict[str, Published]]) -> Iterator[TestClient]:
    runs_dir = runs[0]
    with TestClient(create_app(Settings(api_keys=(KEY,), data_dir=runs_dir.parent,
                                        runs_dir=runs_dir))) as c:
        yield c


@pytest.mark.parametrize("name", ["contact", "account"])
def test_the_service_scores_a_journey_as_its_snapshots_run(
    client: TestClient, runs: tuple[Path, dict[str, Published]], name: str,
) -> None:
    run = runs[1][name]
    got: dict[tuple[str, str, str, str], float] = {}
    dropped: dict[str, int] = {}
    for k in range(0, len(run.journeys), 10):  # the small requests of a CRM, 10 deals each
        response = client.post("/v1/attribute", headers=AUTH, json={
            "models": run.snapshot.scoring_options()["run_models"],
            "snapshot": run.snapshot.snapshot_id,
            "journeys": run.journeys[k:k + 10]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["notes"] == []
        got |= credit_rows(body["touch_credit"], body["models"], run.snapshot.run["models"])
        for reason, n in body["touches_dropped"].items():
            dropped[reason] = dropped.get(reason, 0) + n
    assert got.keys() == run.expected.keys()
    assert max(abs(got[k] - run.expected[k]) for k in got) <= 1e-12
    assert set(dropped) == {"outside_lookback", "journey_too_long"}


REPORT_12 = [{"timestamp": "2025-01-01T00:00:00Z", "channel": "linkedin"},
             {"timestamp": "2025-01-01T00:00:00Z", "channel": "linkedin"},
             {"timestamp": "2025-01-05T00:00:00Z", "channel": "webinar"}]
DEAL = {"id": "opp-1", "timestamp": "2025-01-10T00:00:00Z", "value": 100.0}


@pytest.mark.parametrize("engine", ["auto", "fast", "reference"])
def test_an_exact_duplicate_is_dropped_and_counted_as_a_run_does(engine: str) -> None:
    scores = attribution.score_journeys([{"conversion": DEAL, "touches": REPORT_12}],
                                        models=["linear"], engine=engine)  # type: ignore[arg-type]
    assert scores.touch_credit.select("touch_id", "channel", "credit").rows() == [
        ("touches[0]", "linkedin", 0.5), ("touches[2]", "webinar", 0.5)]
    assert scores.touches_dropped == {"exact_duplicate": 1}
    # the batch run over the same rows
    touches = pl.DataFrame(REPORT_12).with_columns(pl.lit("c1").alias("contact_id"))
    stages = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"],
                           "timestamp": [DEAL["timestamp"]], "value": [100.0]})
    run = attribution.attribute(touches, stages, models=["linear"])
    assert run.manifest["reconciliation"]["touches_dropped"] == {"exact_duplicate": 1}
    assert sorted(run.touch_credit.select("channel", "credit").rows()) == [
        ("linkedin", 0.5), ("webinar", 0.5)]
    # touches differing in one field sent are two touches; a touch_id sent twice is an error
    other = [*REPORT_12[:1], {**REPORT_12[1], "contact_id": "c2"}, REPORT_12[2]]
    assert attribution.score_journeys([{"conversion": DEAL, "touches": other}],
                                      models=["linear"]).touches_dropped == {}


def test_the_service_says_what_it_dropped_and_keeps_todays_defaults(
    tmp_path: Path,
) -> None:
    """While nothing is published, a rule-based request has no run: no lookback."""
    old = [{"timestamp": "2023-01-01T00:00:00Z", "channel": "events"}, *REPORT_12]
    empty = tmp_path / "runs"
    empty.mkdir()
    with TestClient(create_app(Settings(api_keys=(KEY,), data_dir=tmp_path,
                                        runs_dir=empty))) as client:
        response = client.post("/v1/attribute", headers=AUTH, json={
            "models": ["linear"], "journeys": [{"conversion": DEAL, "touches": old}]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["snapshot"] is None
        assert body["touches_dropped"] == {"exact_duplicate": 1}  # no snapshot: no lookback
        assert [r["credit"] for r in body["touch_credit"]] == pytest.approx([1 / 3] * 3)
        twice = client.post("/v1/attribute", headers=AUTH, json={
            "models": ["linear"], "journeys": [{"conversion": DEAL, "touches": [
                {**t, "touch_id": "x"} for t in REPORT_12]}]})
        assert twice.status_code == 422
        assert twice.json()["error"]["field"] == "journeys[0].touches[1].touch_id"


@pytest.mark.parametrize("models", [["linear"], ["linear", "w_shaped"]])
def test_a_rule_based_request_is_scored_as_the_current_snapshots_run(
    client: TestClient, runs: tuple[Path, dict[str, Published]], models: list[str],
) -> None:
    """newuser-report18 S1: rule-based models alone, no "snapshot", while a snapshot is
    published: scored without the run's lookback, stage names, aliases or role multipliers
    (other credit than the nightly run, 200, "snapshot": null). Now as the current
    snapshot's run, the same answer as naming it."""
    current = SnapshotStore.beside(runs[0]).current()
    assert current is not None
    assert current.run_id == "account"
    run = runs[1]["account"]
    journeys = run.journeys[:10]
    sent = {"models": models, "journeys": journeys}
    plain = client.post("/v1/attribute", headers=AUTH, json=sent)
    named = client.post("/v1/attribute", headers=AUTH,
                        json=sent | {"snapshot": current.snapshot_id})
    assert plain.status_code == named.status_code == 200, plain.text
    assert plain.json()["snapshot"] == current.snapshot_id
    assert plain.json()["run_id"] == "account"
    assert plain.json() == named.json()
    # and the run's credit: the role multipliers weigh it (with none, linear is 1/n)
    rows = plain.json()["touch_credit"]
    sizes = {c: sum(r["conversion_id"] == c for r in rows) for c in {r["conversion_id"]
                                                                     for r in rows}}
    assert any(abs(r["credit"] - 1 / sizes[r["conversion_id"]]) > 1e-6
               for r in rows if r["model"] == "linear")


def test_a_journey_whose_touches_are_all_dropped_is_unattributed(
    runs: tuple[Path, dict[str, Published]],
) -> None:
    snapshot = runs[1]["contact"].snapshot
    scores = attribution.score_journeys(
        [{"conversion": DEAL, "touches": [{"timestamp": "2024-06-01", "channel": "email"}]},
         {"conversion": {**DEAL, "id": "opp-2"}, "touches": REPORT_12}],
        models=["linear"], **snapshot.scoring_options())
    assert scores.unattributed == ["opp-1"]
    assert scores.touches_dropped == {"exact_duplicate": 1, "outside_lookback": 1}


def test_what_a_journey_cannot_carry_is_said_in_the_notes(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(
        '{"models": [{"name": "time_decay", "params": {"half_life": "259200.0s"}}]}')
    snapshot = ModelSnapshot(
        snapshot_id="s", run_id="r", published_at="", channels=("email",), conversions=1.0,
        paths=1, directory=tmp_path, run={"models": ["time_decay(half_life=3d)"], "parameters": {
            "level": "account", "lookback": "30 days", "lookback_seconds": 30 * 86400.0,
            "lookback_by_segment_seconds": {"smb": 90 * 86400.0},
            "exclude_touch_types": ["sales_call"], "timezone": "America/New_York",
            "contact_scope": "primary"}})
    scorer = JourneyScorer(models=["time_decay", "linear"], **snapshot.scoring_options()).fit()
    notes = " | ".join(scorer.notes_)
    for said in ("sales_call", "America/New_York", "contact_scope primary",
                 "account without a listed segment (30 days)",
                 'time_decay: the run ran time_decay with other parameters; scored as '
                 'requested (send {"name":"time_decay","params":{"half_life":"259200.0s"}}'):
        assert said in notes, said
    scores = scorer.score([{"conversion": DEAL, "touches": REPORT_12[2:]}])
    assert scores.notes == scorer.notes_
    assert len(scorer.notes_) == 5  # linear: not a model of the run, nothing to say
    same = JourneyScorer(models=["time_decay:half_life=3d"], **snapshot.scoring_options()).fit()
    assert not any("time_decay" in note for note in same.notes_)


def test_a_batch_of_requests_counts_each_ones_drops() -> None:
    # the service scores concurrent requests together (score_many): each answer its own
    scorer = JourneyScorer(models=["linear", "w_shaped"], key="channel/campaign",
                           lookback="14d", max_touches_per_journey=1).fit()
    far = {"timestamp": "2024-12-01T00:00:00Z", "channel": "events", "campaign": "fall"}
    requests = [
        [{"conversion": DEAL, "touches": [far, *REPORT_12]}],
        [{"conversion": DEAL, "touches": [far]},
         {"conversion": {**DEAL, "id": "opp-2"}, "touches": REPORT_12[1:]}],
        [{"conversion": DEAL, "touches": []}],
    ]
    many = scorer.score_many(requests)
    assert [m.touches_dropped for m in many] == [
        {"exact_duplicate": 1, "journey_too_long": 1, "outside_lookback": 1},
        {"journey_too_long": 1, "outside_lookback": 1}, {}]
    assert [m.unattributed for m in many] == [[], ["opp-1"], ["opp-1"]]
    for journeys, batched in zip(requests, many, strict=True):
        alone = scorer.score(journeys)  # type: ignore[arg-type]
        assert batched.touch_credit.equals(alone.touch_credit)
        assert (batched.touches_dropped, batched.unattributed) == (
            alone.touches_dropped, alone.unattributed)


@pytest.mark.parametrize("field", ["role", "campaign"])
def test_a_blank_role_or_campaign_is_refused_by_every_engine(field: str) -> None:
    # the small engine does not read them, so it leaves such a request to the general one
    touches = [{**REPORT_12[0], field: " "}, REPORT_12[2]]
    for engine in ("auto", "fast"):
        with pytest.raises(attribution.InputError) as caught:
            attribution.score_journeys([{"conversion": DEAL, "touches": touches}],
                                       models=["linear"], engine=engine)  # type: ignore[arg-type]
        assert caught.value.column == f"journeys[0].touches[0].{field}"
