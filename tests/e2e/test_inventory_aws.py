"""The AWS inventory end to end on moto: ACM scans, ACM's EventBridge events, discovery, and the one inventory view.

Each test gets a fresh moto account with the real infra/template.yaml deployed (stage ``test``),
certificates imported into ACM in two regions with chosen dates, and the app's container
scanning both. Handlers run through ``chalice.test.Client`` (``lambda_.invoke`` of ``inventory``
and ``acm_events``, HTTP routes with tokens); what SNS publishes is observed on an SQS queue
subscribed to the alerts topic for team ``aws``, the team of events about ACM certificates.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from certwatch import cli
from chalicelib import deps
from chalicelib.checks import resolver
from chalicelib.checks.resolver import SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.tokens import issue
from chalicelib.settings import Settings
from lab.certs import make_cert
from lab.servers import TlsServer
from tests.e2e.inventory_helpers import (
    DAY,
    EU,
    REGIONS,
    US,
    Account,
    FailingRenewals,
    Held,
    unresolvable,
)
from tests.e2e.pipeline_helpers import Clock, Observer, Published, scheduled_event
from tests.support import contract
from tests.support.pki import Pki

STAGE = "test"
ACM_TEAM = "aws"  # the team of events about certificates held in ACM/IAM (no CERTWATCH_ACM_TEAM)
ALPHA = "alpha.inventory.test"  # the name team alpha's loopback TLS server answers for
PINS = {ALPHA: ["127.0.0.1"]}
APPROACHING = "ACM Certificate Approaching Expiration"
AVAILABLE = "ACM Certificate Available"


@dataclass
class World:
    """A moto account with the stage deployed, and the app's container on it."""

    client: Client
    account: Account
    container: Container
    renewals: FailingRenewals  # the container's session
    clock: Clock
    events: Observer
    pki: Pki
    servers: contextlib.ExitStack
    tokens: dict[tuple[str, bool], str] = field(default_factory=dict)

    def token(self, team: str, *, admin: bool = False) -> str:
        if (team, admin) not in self.tokens:
            token, record = issue(team, admin=admin, now=datetime.now(UTC), name=f"inventory {team}")
            self.container.store.put_token(record)
            self.tokens[(team, admin)] = token
        return self.tokens[(team, admin)]

    @property
    def admin(self) -> str:
        return self.token("ops", admin=True)

    def call(self, method: str, path: str, token: str, body: object = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        raw = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        answer = self.client.http.request(method, path, headers=headers, body=raw)
        document = json.loads(answer.body) if answer.body else None
        contract.check(method, path, answer.status_code, document, sent=raw, headers=headers)
        return answer.status_code, document

    def certificates(self, query: str = "source=acm") -> dict[str, dict[str, Any]]:
        """GET /certificates?<query> as the admin, every row by id (one page is enough here)."""
        status, body = self.call("GET", f"/certificates?{query}", self.admin)
        assert status == 200, body
        assert body["next_cursor"] is None
        return {row["id"]: row for row in body["items"]}

    def scan(self) -> dict[str, Any]:
        """Invoke the ``inventory`` function as its schedule does."""
        payload: dict[str, Any] = self.client.lambda_.invoke("inventory", scheduled_event()).payload
        return payload

    def acm_event(self, detail_type: str, held: Held, detail: dict[str, Any] | None = None) -> dict[str, Any]:
        """Invoke the ``acm_events`` function with what EventBridge forwards from ACM about ``held``."""
        event = self.client.events.generate_cw_event(
            source="aws.acm",
            detail_type=detail_type,
            resources=[held.arn],
            detail=detail if detail is not None else {"DaysToExpiry": 40, "CommonName": held.domain},
            region=held.region,
        )
        payload: dict[str, Any] = self.client.lambda_.invoke("acm_events", event).payload
        return payload

    def serve(self, name: str, *, days: float) -> TlsServer:
        now = datetime.now(UTC)
        leaf = make_cert(name, issuer=self.pki.intermediate, not_before=now - DAY, not_after=now + days * DAY)
        server = TlsServer([leaf, self.pki.intermediate]).start()
        self.servers.callback(server.stop)
        return server


@pytest.fixture
def world(client: Client, pki: Pki) -> Iterator[World]:
    """A fresh moto account per test: the stage deployed, ACM scanned in two regions, no real DNS."""
    import boto3
    from moto import mock_aws

    from certwatch.aws.cloudformation import deploy_stack

    with mock_aws():
        outputs = deploy_stack(boto3.client("cloudformation"), STAGE)
        clock = Clock()
        settings = Settings.for_stage(
            STAGE,
            allow_cidrs="127.0.0.0/8",
            topic_arn=outputs["AlertsTopicArn"],
            check_queue_url=outputs["CheckQueueUrl"],
            check_timeout=2,
            acm_regions=REGIONS,
        )
        renewals = FailingRenewals()
        container = Container(
            settings,
            clock=clock,
            session=renewals,
            trust=pki.trust,
            resolver=SystemResolver(PINS, lookup=unresolvable),
        )
        events = Observer(boto3.client("sqs"), boto3.client("sns"), outputs["AlertsTopicArn"], ACM_TEAM)
        deps.use(container)
        with contextlib.ExitStack() as servers:
            try:
                yield World(client, Account(), container, renewals, clock, events, pki, servers)
            finally:
                deps.use(None)
                if "engine" in container.__dict__:
                    container.engine.close()
                container.resolver.close()


def by_target(events: list[Published]) -> dict[str, Published]:
    """Events by the ARN they are about, asserting there is one each."""
    found = {event.about: event for event in events}
    assert len(found) == len(events), [(e.about, e.type) for e in events]
    return found


def codes(row: dict[str, Any]) -> list[str]:
    return list(row["codes"])


def finding_severities(event: Published) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in event.document["findings"]}


# --- the scan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expiring:
    """Imported certificates of both regions, some behind HTTPS listeners."""

    used40: Held  # eu-west-1, in use, 40 days left
    used5: Held  # eu-west-1, in use, 5 days left
    later200: Held  # eu-west-1, in use, 200 days left
    unused40: Held  # us-east-1, unused, 40 days left
    unused5: Held  # us-east-1, unused, 5 days left


def expiring_account(world: World) -> Expiring:
    account = world.account
    held = Expiring(
        used40=account.import_cert(EU, "used40.inventory.test", days=40),
        used5=account.import_cert(EU, "used5.inventory.test", days=5),
        later200=account.import_cert(EU, "later200.inventory.test", days=200),
        unused40=account.import_cert(US, "unused40.inventory.test", days=40),
        unused5=account.import_cert(US, "unused5.inventory.test", days=5),
    )
    account.use(held.used40)
    account.use(held.used5)
    account.use(held.later200)
    for used in (held.used40, held.used5, held.later200):
        assert account.in_use_by(used)
    return held


def test_a_scan_of_every_acm_region_reports_the_findings_and_announces_each_threshold_once(world: World) -> None:
    held = expiring_account(world)

    first = world.scan()
    published = by_target(world.events.take())
    rows = world.certificates()
    again = world.scan()
    republished = world.events.take()

    assert first == {"seen": 5, "removed": 0, "published": 4}
    assert set(rows) == {h.arn for h in (held.used40, held.used5, held.later200, held.unused40, held.unused5)}
    used40, used5, later = rows[held.used40.arn], rows[held.used5.arn], rows[held.later200.arn]
    # Imported: nobody renews it, so it is announced at 45 days rather than 30.
    assert (used40["status"], codes(used40), used40["days_left"]) == (
        "warning",
        ["NOT_AUTO_RENEWED", "EXPIRING_SOON"],
        40,
    )
    assert (used5["status"], codes(used5), used5["days_left"]) == ("critical", ["NOT_AUTO_RENEWED", "EXPIRING_SOON"], 5)
    assert (later["status"], codes(later), later["days_left"]) == ("ok", ["NOT_AUTO_RENEWED"], 200)  # info only
    assert used40["used_by"] == world.account.in_use_by(held.used40)
    assert rows[held.unused40.arn]["used_by"] == []
    assert {rows[h.arn]["region"] for h in (held.used40, held.unused40)} == {EU, US}
    assert all(row["source"] == "acm" and row["team"] == ACM_TEAM for row in rows.values())

    assert set(published) == {held.used40.arn, held.used5.arn, held.unused40.arn, held.unused5.arn}
    warning = published[held.used40.arn]
    assert warning.type == "certificate.expiring"
    assert warning.document["severity"] == "warning"
    assert warning.document["threshold_days"] == 45
    assert warning.document["days_left"] == 40
    assert warning.document["target"]["source"] == "acm"
    assert warning.document["target"]["region"] == EU
    assert warning.document["target"]["in_use_by"] == world.account.in_use_by(held.used40)
    assert warning.attributes == {
        "type": "certificate.expiring",
        "severity": "warning",
        "team": ACM_TEAM,
        "days_left": "40",
    }
    critical = published[held.used5.arn]
    assert (critical.type, critical.document["severity"], critical.document["threshold_days"]) == (
        "certificate.expiring",
        "critical",
        7,
    )
    assert again == {"seen": 5, "removed": 0, "published": 0}
    assert republished == []
    assert world.certificates() == rows


def test_an_unused_certificates_expiry_is_one_severity_lower_than_a_used_ones(world: World) -> None:
    held = expiring_account(world)

    world.scan()
    published = by_target(world.events.take())
    rows = world.certificates()

    def severities(h: Held) -> tuple[str, str, str]:
        event = published[h.arn]
        return (rows[h.arn]["status"], finding_severities(event)["EXPIRING_SOON"], event.document["severity"])

    assert severities(held.used40) == ("warning", "warning", "warning")
    assert severities(held.unused40) == ("ok", "info", "info")
    assert severities(held.used5) == ("critical", "critical", "critical")
    assert severities(held.unused5) == ("warning", "warning", "warning")
    assert codes(rows[held.unused5.arn]) == ["NOT_AUTO_RENEWED", "UNUSED", "EXPIRING_SOON"]
    assert [published[h.arn].document["threshold_days"] for h in (held.unused40, held.unused5)] == [45, 7]


def test_an_rsa_1024_certificate_is_a_weak_key(world: World) -> None:
    try:
        weak = world.account.import_cert(EU, "weak.inventory.test", days=300, key="rsa1024")
    except ClientError as exc:  # AWS refuses RSA 1024 imports in some regions; moto may follow
        pytest.skip(f"ACM refuses RSA 1024 imports here: {exc}")
    world.account.use(weak)

    scanned = world.scan()
    (event,) = world.events.take()
    row = world.certificates()[weak.arn]

    assert scanned["published"] == 1
    assert (row["status"], codes(row), row["key"]) == ("critical", ["NOT_AUTO_RENEWED", "WEAK_KEY"], "RSA_1024")
    assert (event.type, event.document["severity"], event.about) == ("certificate.problem", "critical", weak.arn)
    assert finding_severities(event) == {"WEAK_KEY": "critical"}
    assert world.scan()["published"] == 0
    assert world.events.take() == []


def test_a_failed_acm_renewal_is_a_critical_finding_and_a_problem_event(world: World) -> None:
    failing = world.account.import_cert(EU, "failing.inventory.test", days=200)
    healthy = world.account.import_cert(EU, "healthy.inventory.test", days=200)
    world.account.use(failing)
    world.account.use(healthy)
    world.renewals.fail(failing.arn)

    scanned = world.scan()
    (event,) = world.events.take()
    rows = world.certificates()

    assert scanned == {"seen": 2, "removed": 0, "published": 1}
    assert (rows[failing.arn]["status"], codes(rows[failing.arn])) == (
        "critical",
        ["NOT_AUTO_RENEWED", "RENEWAL_FAILED"],
    )
    assert (rows[healthy.arn]["status"], codes(rows[healthy.arn])) == ("ok", ["NOT_AUTO_RENEWED"])
    assert (event.type, event.document["severity"], event.about) == ("certificate.problem", "critical", failing.arn)
    assert event.document["summary"] == "ACM renewal failed"
    (finding,) = event.document["findings"]
    assert (finding["code"], finding["severity"]) == ("RENEWAL_FAILED", "critical")
    assert "CAA_ERROR" in finding["message"]
    assert world.scan()["published"] == 0
    assert world.events.take() == []


def test_a_certificate_that_expires_after_import_is_announced_expired_once(world: World) -> None:
    soon = world.account.import_cert(EU, "soon.inventory.test", days=5)
    world.account.use(soon)
    world.scan()
    assert [e.type for e in world.events.take()] == ["certificate.expiring"]

    world.clock.advance(6 * DAY)  # moto refuses expired imports: move the app's clock instead
    world.scan()
    (expired,) = world.events.take()
    row = world.certificates()[soon.arn]

    assert (expired.type, expired.document["severity"]) == ("certificate.expired", "critical")
    assert (row["status"], codes(row), row["days_left"]) == ("critical", ["NOT_AUTO_RENEWED", "EXPIRED"], -1)
    assert world.scan()["published"] == 0
    assert world.events.take() == []


# --- ACM's EventBridge events --------------------------------------------------------------------


def test_an_acm_event_about_a_certificate_not_yet_scanned_announces_it_at_once(world: World) -> None:
    fresh = world.account.import_cert(US, "fresh.inventory.test", days=40)
    world.account.use(fresh)

    answer = world.acm_event(APPROACHING, fresh)
    (event,) = world.events.take()
    rows = world.certificates()

    assert answer == {"published": 1}
    assert (event.type, event.about, event.document["severity"]) == ("certificate.expiring", fresh.arn, "warning")
    assert (event.document["threshold_days"], event.document["target"]["source"]) == (45, "acm")
    assert (rows[fresh.arn]["status"], rows[fresh.arn]["region"]) == ("warning", US)
    # The daily scan that comes later knows it was announced.
    assert world.scan()["published"] == 0
    assert world.events.take() == []


def test_the_tags_of_an_acm_certificate_name_its_owner_and_runbook_in_its_events(world: World) -> None:
    tagged = world.account.import_cert(EU, "tagged.inventory.test", days=40)
    world.account.acm(EU).add_tags_to_certificate(
        CertificateArn=tagged.arn,
        Tags=[
            {"Key": "certwatch:owner", "Value": "edge-oncall@example.com"},
            {"Key": "certwatch:runbook", "Value": "https://wiki.example.com/runbooks/acm"},
            {"Key": "notes", "Value": "imported from the old CDN"},
        ],
    )

    world.acm_event(APPROACHING, tagged)
    world.scan()
    (event,) = world.events.take()

    target = event.document["target"]  # validated against the declared event document on the way
    assert (target["source"], target["owner"], target["runbook_url"], target["notes"]) == (
        "acm",
        "edge-oncall@example.com",
        "https://wiki.example.com/runbooks/acm",
        "imported from the old CDN",
    )


def test_after_the_scan_announced_a_threshold_acms_event_announces_nothing_again(world: World) -> None:
    held = world.account.import_cert(EU, "scanned.inventory.test", days=40)
    world.scan()
    assert [(e.type, e.about) for e in world.events.take()] == [("certificate.expiring", held.arn)]

    approaching = world.acm_event(APPROACHING, held)
    again = world.acm_event(APPROACHING, held)

    assert approaching == again == {"published": 0}
    assert world.events.take() == []


def test_acm_certificate_available_after_a_reimport_under_the_same_arn_announces_renewed(world: World) -> None:
    old = world.account.import_cert(EU, "renewing.inventory.test", days=40)
    world.scan()
    (expiring,) = world.events.take()
    new = world.account.import_cert(EU, "renewing.inventory.test", days=300, arn=old.arn)
    assert new.arn == old.arn

    answer = world.acm_event(AVAILABLE, new, {"CommonName": new.domain})
    (renewed,) = world.events.take()
    row = world.certificates()[old.arn]
    repeated = world.acm_event(AVAILABLE, new, {"CommonName": new.domain})

    assert expiring.type == "certificate.expiring"
    assert answer == {"published": 1}
    assert (renewed.type, renewed.document["severity"], renewed.about) == ("certificate.renewed", "info", old.arn)
    assert renewed.document["previous_fingerprint"]
    assert renewed.document["not_after"].startswith(f"{new.not_after:%Y-%m-%d}")
    assert (row["status"], codes(row), row["days_left"]) == ("ok", ["NOT_AUTO_RENEWED", "UNUSED"], 300)
    assert repeated == {"published": 0}
    assert world.scan()["published"] == 0
    assert world.events.take() == []


def test_an_acm_event_of_another_detail_type_is_ignored(world: World) -> None:
    held = world.account.import_cert(EU, "ignored.inventory.test", days=5)

    answer = world.acm_event("AWS API Call via CloudTrail", held, {"eventName": "ImportCertificate"})

    assert answer == {"published": 0}
    assert world.events.take() == []
    assert world.certificates() == {}  # not even recorded


# --- discovery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Behind:
    """Public endpoints of the account: an HTTPS listener, a CloudFront alias, an API Gateway domain name."""

    expected: set[tuple[str, str, str]]  # (target, source, certificate ARN)

    @property
    def registered(self) -> list[tuple[str, str]]:
        """(target, source) of the targets registering them makes, sorted."""
        return sorted((target, f"discovery:{source}") for target, source, _ in self.expected)


def endpoints_behind_certificates(world: World) -> Behind:
    account = world.account
    # The wildcard SAN is no host to connect to: discovery proposes shop.inventory.test only.
    shop = account.import_cert(EU, "shop.inventory.test", days=90, sans=["shop.inventory.test", "*.inventory.test"])
    listener = account.use(shop, port=443)
    cdn = account.import_cert(US, "cdn.inventory.test", days=90)  # CloudFront takes us-east-1 certificates
    distribution = account.distribution("cdn.inventory.test", cdn)
    api = account.import_cert(EU, "api.inventory.test", days=90)
    account.rest_domain("api.inventory.test", api)
    return Behind(
        {
            ("https://shop.inventory.test:443", f"elbv2:{listener}", shop.arn),
            ("https://cdn.inventory.test:443", f"cloudfront:{distribution}", cdn.arn),
            ("https://api.inventory.test:443", "apigateway:api.inventory.test", api.arn),
        }
    )


def found(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """What POST /discover found: (target, source, certificate ARN) of each endpoint."""
    return {
        (f"{e['protocol']}://{e['host']}:{e['port']}", e["source"], e["certificate_arn"]) for e in document["endpoints"]
    }


def discovered_targets(world: World) -> dict[str, tuple[str, str]]:
    """Team platform's targets: id -> (target, source)."""
    status, listed = world.call("GET", "/targets?team=platform", world.admin)
    assert status == 200, listed
    assert listed["next_cursor"] is None
    return {item["id"]: (item["target"], item["source"]) for item in listed["items"]}


def test_discovery_registers_listeners_distributions_and_custom_domains_once_for_admins_only(world: World) -> None:
    behind = endpoints_behind_certificates(world)
    team_token = world.token("platform")

    status, first = world.call("POST", "/discover?team=platform", world.admin, {"register": True})
    registered = discovered_targets(world)
    second_status, second = world.call("POST", "/discover?team=platform", world.admin, {"register": True})
    proposed_status, proposed = world.call("POST", "/discover?team=platform", world.admin)
    denied = [
        world.call("POST", "/discover", team_token, {"register": True})[0],
        world.call("POST", "/discover", team_token, {})[0],
    ]

    assert status == 200, first
    assert first["failures"] == []
    assert found(first) == behind.expected
    assert [e["outcome"] for e in first["endpoints"]] == ["created"] * 3
    # Names nobody can resolve (no real DNS here) are accepted at registration.
    assert sorted(registered.values()) == behind.registered
    assert second_status == 200, second
    assert found(second) == behind.expected
    assert [e["outcome"] for e in second["endpoints"]] == ["duplicate"] * 3
    assert {e["existing_id"] for e in second["endpoints"]} == set(registered)
    assert discovered_targets(world) == registered
    assert proposed_status == 200, proposed
    assert {e["outcome"] for e in proposed["endpoints"]} == {"proposed"}
    assert denied == [403, 403]


def test_the_discover_command_registers_and_lists_what_it_found(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    behind = endpoints_behind_certificates(world)
    monkeypatch.setenv("CERTWATCH_ACM_REGIONS", ",".join(REGIONS))
    # The command builds its own Container: keep its resolver away from real DNS too.
    monkeypatch.setattr(
        resolver, "SystemResolver", lambda **options: SystemResolver({}, lookup=unresolvable, **options)
    )
    capsys.readouterr()

    status = cli.main(["discover", "--register", "--team", "platform", "--stage", STAGE, "--region", EU])
    out, err = capsys.readouterr()

    assert status == 0, err
    header, *lines = out.splitlines()
    assert header.split() == ["TARGET", "SOURCE", "OUTCOME"]
    assert sorted(tuple(line.split()) for line in lines) == sorted(
        (target, source, "created") for target, source, _ in behind.expected
    )
    assert sorted(discovered_targets(world).values()) == behind.registered


# --- one inventory: the API and the CLI ----------------------------------------------------------


def cli_rows(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    """``certwatch inventory --format json ...`` run in-process; its rows."""
    capsys.readouterr()
    status = cli.main(["inventory", "--format", "json", "--stage", STAGE, "--region", EU, *argv])
    out, err = capsys.readouterr()
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def summary(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["id"], r["source"], r["status"], r["days_left"], tuple(r["codes"])) for r in rows]


def test_get_certificates_and_the_inventory_command_agree(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    server = world.serve(ALPHA, days=20)
    status, created = world.call("POST", "/targets?team=alpha", world.admin, {"target": f"tls://{ALPHA}:{server.port}"})
    assert status == 201, created
    status, checked = world.call("POST", f"/targets/{created['id']}/check?team=alpha", world.admin)
    assert status == 200, checked
    used = world.account.import_cert(EU, "used.inventory.test", days=40)
    world.account.use(used)
    world.account.import_cert(US, "later.inventory.test", days=200)
    world.scan()

    status, api = world.call("GET", "/certificates?team=alpha", world.admin)
    listed = cli_rows(capsys, "--team", "alpha")

    assert status == 200, api
    assert {row["source"] for row in api["items"]} == {"endpoint", "acm"}
    endpoint = [row for row in api["items"] if row["source"] == "endpoint"]
    assert [(row["status"], row["days_left"]) for row in endpoint if row["subject"] == f"CN={ALPHA}"] == [
        ("warning", 19)
    ]
    assert len(api["items"]) == len(endpoint) + 2
    assert summary(listed) == summary(api["items"])
    assert listed == api["items"]


def test_the_inventory_commands_scan_looks_in_every_acm_region(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = world.account.import_cert(EU, "here.inventory.test", days=200)
    there = world.account.import_cert(US, "there.inventory.test", days=200)
    world.scan()
    monkeypatch.setenv("CERTWATCH_ACM_REGIONS", ",".join(REGIONS))

    listed = cli_rows(capsys, "--scan", "--source", "acm")

    assert {row["id"] for row in listed} == {here.arn, there.arn}
    assert set(world.certificates()) == {here.arn, there.arn}
