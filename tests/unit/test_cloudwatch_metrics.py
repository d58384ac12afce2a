"""The checker's and the relays' CloudWatch figures: what the worker and relays count, and the EMF documents.

Per team: SoonestExpiryDays (the fewest days left of a certificate checked) and ChecksByStatus; per
channel: EventsDelivered and EventsFailed. Each is also kept for the stage alone (a second
dimension set of the same document), which is what infra/template.yaml's alarms read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters import telemetry
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.errors import SlackError
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.services.ports import CheckedTarget, TeamReads
from chalicelib.services.slack_relay import SlackRelay
from chalicelib.services.worker import CheckWorker
from chalicelib.settings import Settings
from tests.support import reports
from tests.support.events import event_data
from tests.support.fakes import InMemoryStore

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class _Checker:
    """Checks each target to the report its host names: soon (3 days), later (40), or unreachable."""

    def read_teams(self, teams: Sequence[str]) -> TeamReads:
        return TeamReads({}, dict.fromkeys(teams))

    def run(
        self, targets: Sequence[Target], teams: TeamReads | None = None, *, whole_reports: bool = False
    ) -> tuple[list[CheckedTarget], list[Target]]:
        made = {
            "soon.example.com": reports.report(NOW, host="soon.example.com", days_left=3),
            "later.example.com": reports.report(NOW, host="later.example.com", days_left=40),
            "down.example.com": reports.unreachable(NOW, host="down.example.com"),
        }
        return [CheckedTarget(t, made[t.endpoint.host]) for t in targets], []


def _target(team: str, host: str, number: int) -> Target:
    return Target(f"tg_{number:020x}", team, TargetSpec(reports.report(NOW, host=host).endpoint), NOW, NOW, NOW)


def _emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "certwatch")


def test_a_batch_counts_each_teams_soonest_expiry_and_its_checks_by_status() -> None:
    store = InMemoryStore()
    targets = [
        _target("web", "soon.example.com", 1),
        _target("web", "later.example.com", 2),
        _target("api", "down.example.com", 3),
    ]
    for target in targets:
        store.create_target(target)
    records = [{"messageId": f"m{t.id}", "body": json.dumps({"team": t.team, "id": t.id})} for t in targets]

    outcome = CheckWorker(store, _Checker()).handle(records)

    assert outcome.soonest_days == {"web": 3}  # api's check read no certificate
    assert outcome.statuses == {("web", "ok"): 2, ("api", "error"): 1}


def test_with_team_metrics_on_the_checkers_figures_are_emf_documents_by_team_and_for_the_stage_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    telemetry.checked("prod", {"web": 3}, {("web", "critical"): 2}, enabled=True, by_team="on")

    soonest, by_status = _emf(capsys.readouterr().out)
    (declared,) = soonest["_aws"]["CloudWatchMetrics"]
    assert declared["Namespace"] == "certwatch"
    assert declared["Metrics"] == [{"Name": "SoonestExpiryDays", "Unit": "None"}]
    assert sorted(map(sorted, declared["Dimensions"])) == [["service", "stage"], ["service", "stage", "team"]]
    assert (soonest["SoonestExpiryDays"], soonest["stage"], soonest["team"], soonest["service"]) == (
        [3.0],
        "prod",
        "web",
        "certwatch",
    )
    (declared,) = by_status["_aws"]["CloudWatchMetrics"]
    assert sorted(map(sorted, declared["Dimensions"])) == [
        ["service", "stage", "status"],
        ["service", "stage", "status", "team"],
    ]
    assert (by_status["ChecksByStatus"], by_status["status"]) == ([2.0], "critical")


def test_deliveries_are_counted_by_channel(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry.deliveries("dev", enabled=True)({"slack": 1, "teams": 0}, {"generic": 2})

    documents = _emf(capsys.readouterr().out)
    assert [(d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], d["channel"]) for d in documents] == [
        ("EventsDelivered", "slack"),
        ("EventsFailed", "generic"),
    ]
    assert documents[1]["EventsFailed"] == [2.0]
    assert all(d["stage"] == "dev" for d in documents)


def test_nothing_is_emitted_while_metrics_are_off(capsys: pytest.CaptureFixture[str]) -> None:
    enabled = Settings.from_env({"POWERTOOLS_METRICS_DISABLED": "true"}).metrics

    telemetry.checked("prod", {"web": 3}, {("web", "ok"): 1}, enabled=enabled)
    telemetry.deliveries("prod", enabled=enabled)({"slack": 1}, {})

    assert _emf(capsys.readouterr().out) == []


class _Slack:
    def __init__(self, answer: bool | Exception) -> None:
        self._answer = answer

    def post_event(self, document: EventDocument) -> bool:
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer


@pytest.mark.parametrize(
    ("answer", "message", "heard"),
    [
        (True, None, [({"slack": 1}, {})]),
        (False, None, [({"slack": 0}, {})]),  # no webhook configured: nothing to count
        (SlackError("refused"), None, [({}, {"slack": 1})]),
        (True, "not an event", [({}, {"slack": 1})]),
    ],
)
def test_the_slack_relay_tells_its_tally_what_became_of_an_event(
    answer: bool | Exception, message: str | None, heard: list[tuple[Mapping[str, int], Mapping[str, int]]]
) -> None:
    told: list[tuple[Mapping[str, int], Mapping[str, int]]] = []
    sent = message or json.dumps(event_data())

    def tally(delivered: Mapping[str, int], failed: Mapping[str, int]) -> None:
        told.append((dict(delivered), dict(failed)))

    relay = SlackRelay(_Slack(answer))
    if isinstance(answer, Exception):
        with pytest.raises(SlackError):
            relay.deliver(sent, tally=tally)
    else:
        relay.deliver(sent, tally=tally)

    assert told == heard


def test_without_team_metrics_the_checkers_figures_are_the_stages_alone(capsys: pytest.CaptureFixture[str]) -> None:
    statuses = {("web", "critical"): 2, ("api", "critical"): 1, ("api", "ok"): 4}
    telemetry.checked("prod", {"web": 3, "api": 40}, statuses, enabled=True, by_team="off")

    documents = _emf(capsys.readouterr().out)
    for document in documents:
        assert "team" not in document
        (declared,) = document["_aws"]["CloudWatchMetrics"]
        assert [sorted(dimensions) for dimensions in declared["Dimensions"]] == [
            ["service", "stage", "status"] if "status" in document else ["service", "stage"]
        ]
    soonest, *by_status = documents
    assert soonest["SoonestExpiryDays"] == [3.0]  # the soonest of every team's
    assert {d["status"]: d["ChecksByStatus"] for d in by_status} == {"critical": [3.0], "ok": [4.0]}


def test_by_default_only_the_soonest_expiry_carries_each_team(capsys: pytest.CaptureFixture[str]) -> None:
    """One custom metric a team (the dashboard's by-team widget reads it), not five: the statuses by stage."""
    statuses = {("web", "critical"): 2, ("api", "critical"): 1, ("api", "ok"): 4}
    telemetry.checked("prod", {"web": 3, "api": 40}, statuses, enabled=True)

    documents = _emf(capsys.readouterr().out)
    soonest = [d for d in documents if "SoonestExpiryDays" in d]
    by_status = [d for d in documents if "ChecksByStatus" in d]
    assert {d["team"]: d["SoonestExpiryDays"] for d in soonest} == {"web": [3.0], "api": [40.0]}
    for document in soonest:
        (declared,) = document["_aws"]["CloudWatchMetrics"]
        assert sorted(map(sorted, declared["Dimensions"])) == [["service", "stage"], ["service", "stage", "team"]]
    assert {d["status"]: d["ChecksByStatus"] for d in by_status} == {"critical": [3.0], "ok": [4.0]}
    for document in by_status:
        assert "team" not in document
        (declared,) = document["_aws"]["CloudWatchMetrics"]
        assert [sorted(dimensions) for dimensions in declared["Dimensions"]] == [["service", "stage", "status"]]


@pytest.mark.parametrize(
    ("given", "read"),
    [(None, "expiry"), ("expiry", "expiry"), ("on", "on"), ("true", "on"), ("OFF", "off"), ("0", "off")],
)
def test_team_metrics_are_a_setting_of_three_values_the_soonest_expiry_alone_by_default(
    given: str | None, read: str
) -> None:
    env = {} if given is None else {"CERTWATCH_TEAM_METRICS": given}
    assert Settings.from_env(env).team_metrics == read


def test_threads_asking_for_the_logger_at_once_share_one_and_can_bind_it() -> None:
    # The local stack's loops ask at once; a second Logger built meanwhile broke the first one's formatter. A
    # process of its own: the logger is built once per process, and this one's is built already. Building one
    # is made slow there, so that the threads would all be building at once but for the lock.
    code = """
import threading, time
from aws_lambda_powertools import Logger
from chalicelib.adapters import telemetry
built = Logger.__init__
def slowly(self, *args, **kwargs):
    time.sleep(0.05)
    built(self, *args, **kwargs)
Logger.__init__ = slowly
start, got, errors = threading.Barrier(8), [], []
def ask():
    start.wait()
    try:
        got.append(telemetry.logger())
        telemetry.bind(None)
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len({id(logger) for logger in got}), errors)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.split("\n")[0] == "1 []", done.stdout + done.stderr
