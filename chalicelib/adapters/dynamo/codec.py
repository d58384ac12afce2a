"""How certwatch's records look in the table: their keys, and each domain object as item attributes.

Timestamps are fixed-width UTC text (they sort as text in the same order as in time); a check's
full report is kept as JSON in a format of its own (``REPORT_FORMAT``), apart from the API's
rendering, so changing what the API shows never changes what is stored.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.domain.alerts import (
    AlertEvent,
    AlertState,
    AlertSubject,
    EventType,
    Holder,
    Notification,
    Observation,
)
from chalicelib.domain.cadence import Cadence, Renewal, Sighting
from chalicelib.domain.inventory import ManagedCertificate, Source
from chalicelib.domain.models import (
    CertificateInfo,
    CheckResult,
    Endpoint,
    FailureReason,
    Finding,
    FindingCode,
    Protocol,
    Severity,
    Status,
    TargetReport,
)
from chalicelib.domain.silences import MaintenanceWindow, Match, Silence
from chalicelib.domain.targets import CertificateBrief, ResultSummary, Target, TargetSpec, legacy_endpoint_key
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import TokenRecord
from chalicelib.errors import StoreError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# The sparse ``due`` index is spread over this many partitions (the last hex digits of the id),
# so the scheduler's queries never all land on one hot partition.
DUE_SHARDS = 16
# The stored report's format: a record of any other is refused (a StoreError), never guessed at.
REPORT_FORMAT = 2


def dump(item: dict[str, Any]) -> dict[str, Any]:
    """Plain values as DynamoDB attribute values."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def load(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values as plain values (numbers come back as Decimal)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def attribute(plain: Any) -> dict[str, Any]:
    """One plain value as a DynamoDB attribute value (for expressions)."""
    result: dict[str, Any] = _serializer.serialize(plain)
    return result


def ts(moment: datetime) -> str:
    """A fixed-width UTC timestamp: sorts as text in the same order as in time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def compact_json(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


# --- keys ------------------------------------------------------------------------------------------


# Partitions: a team's records (then the team's name), certificates held in ACM/IAM (sort key:
# the ARN), API tokens (sort key: the token id).
TEAM = "TEAM#"
INVENTORY = "INVENTORY"
TOKENS = "TOKEN"
# What a team's partition holds, by the prefix of the sort key (then the target id).
TARGET = "T#"  # a target, with its latest result summary
RESULT = "R#"  # the latest check's full report
UNIQUE = "U#"  # then the endpoint's key (host, port, protocol, SNI): unique within the team
ALERTS = "A#"  # what has been announced about the target
OUTBOX = "E#"  # then the event key (an endpoint's own start with its id): a notification
# A webhook destination's partition (then its id), and what it holds (then the event's key).
WEBHOOK = "WEBHOOK#"
DELIVERY = "D#"  # a delivery of one event to the destination: claimed, then delivered
HISTORY = "H#"  # then the target id, "#" and a certificate's fingerprint: when it was first served
CERTIFICATE = "C#"  # then a certificate's fingerprint: which endpoints of the team serve it
SETTINGS = "S#team"  # the team's settings
SILENCE = "Q#"  # then a silence's id
WINDOW = "M#"  # then a maintenance window's id


def due_shard(target_id: str) -> str:
    return str(int(target_id[-2:], 16) % DUE_SHARDS)


# --- targets and their latest result --------------------------------------------------------------


def target_item(target: Target) -> dict[str, Any]:
    spec, endpoint = target.spec, target.spec.endpoint
    item: dict[str, Any] = {
        "pk": TEAM + target.team,
        "sk": TARGET + target.id,
        "id": target.id,
        "team": target.team,
        "host": endpoint.host,
        "port": endpoint.port,
        "protocol": endpoint.protocol.value,
        "labels": spec.labels,
        "warn_days": spec.warn_days,
        "critical_days": spec.critical_days,
        "check_interval_minutes": spec.check_interval_minutes,
        "revocation": spec.revocation,
        "ari": spec.ari,
        "paused": target.paused,
        "source": target.source,
        "created_at": ts(target.created_at),
        "updated_at": ts(target.updated_at),
        "next_check_at": ts(target.next_check_at),
        # The key of its uniqueness item, as written: a delete removes that one item whatever
        # later versions derive from the endpoint.
        "unique_key": target.key,
    }
    optional = {
        "sni": endpoint.sni,
        "ca_bundle": spec.ca_bundle,
        "notes": spec.notes,
        "owner": spec.owner,
        "runbook_url": spec.runbook_url,
        "alert_days": None if spec.alert_days is None else list(spec.alert_days),
    }
    item |= {name: value for name, value in optional.items() if value is not None}
    if not target.paused:
        item["due_shard"] = due_shard(target.id)
    if target.latest is not None:
        item |= summary_attributes(target.latest)
    return item


SUMMARY_OPTIONAL = ("latest_days_left", "latest_not_after", "latest_certificates")


def summary_attributes(summary: ResultSummary) -> dict[str, Any]:
    """The latest result's summary, as attributes of the target's own item."""
    values: dict[str, Any] = {
        "latest_status": summary.status.value,
        "latest_codes": list(summary.codes),
        "latest_checked_at": ts(summary.checked_at),
    }
    if summary.days_left is not None:
        values["latest_days_left"] = summary.days_left
    if summary.not_after is not None:
        values["latest_not_after"] = ts(summary.not_after)
    if summary.certificates:
        values["latest_certificates"] = [
            {
                "fingerprint_sha256": c.fingerprint_sha256,
                "subject": c.subject,
                "issuer": c.issuer,
                "key": c.key,
                "not_after": ts(c.not_after),
                "sans": list(c.sans),
            }
            for c in summary.certificates
        ]
    return values


def unique_key(item: dict[str, Any]) -> str:
    """The key of a stored target's uniqueness item (``U#``): as written, else as versions that kept none wrote it."""
    return str(item["unique_key"]) if "unique_key" in item else legacy_endpoint_key(target(item).endpoint)


def target(item: dict[str, Any]) -> Target:
    # As stored, never parsed again: a name an earlier version accepted (IDNA 2003) must still read.
    host = item["host"]
    endpoint = Endpoint(host, int(item["port"]), Protocol(item["protocol"]), item.get("sni"), _is_address(host))
    spec = TargetSpec(
        endpoint=endpoint,
        labels={str(k): str(v) for k, v in item.get("labels", {}).items()},
        warn_days=int(item["warn_days"]),
        critical_days=int(item["critical_days"]),
        check_interval_minutes=int(item["check_interval_minutes"]),
        ca_bundle=item.get("ca_bundle"),
        notes=item.get("notes"),
        owner=item.get("owner"),
        runbook_url=item.get("runbook_url"),
        alert_days=tuple(int(d) for d in item["alert_days"]) if "alert_days" in item else None,
        revocation=bool(item.get("revocation", True)),
        ari=bool(item.get("ari", True)),
    )
    latest = None
    if "latest_status" in item:
        latest = ResultSummary(
            status=Status(item["latest_status"]),
            days_left=int(item["latest_days_left"]) if "latest_days_left" in item else None,
            not_after=parse_ts(item["latest_not_after"]) if "latest_not_after" in item else None,
            codes=tuple(item.get("latest_codes", [])),
            checked_at=parse_ts(item["latest_checked_at"]),
            certificates=tuple(
                CertificateBrief(
                    fingerprint_sha256=c["fingerprint_sha256"],
                    subject=c["subject"],
                    issuer=c["issuer"],
                    key=c["key"],
                    not_after=parse_ts(c["not_after"]),
                    sans=tuple(c.get("sans", [])),
                )
                for c in item.get("latest_certificates", [])
            ),
        )
    return Target(
        id=item["id"],
        team=item["team"],
        spec=spec,
        created_at=parse_ts(item["created_at"]),
        updated_at=parse_ts(item["updated_at"]),
        next_check_at=parse_ts(item["next_check_at"]),
        paused=bool(item.get("paused", False)),
        source=item.get("source", "api"),
        latest=latest,
    )


# --- a check's full report ------------------------------------------------------------------------


def report_record(report: TargetReport) -> dict[str, Any]:
    """A report as stored (JSON-ready): every field, timestamps to the microsecond."""
    return {
        "format": REPORT_FORMAT,
        "endpoint": _endpoint_record(report.endpoint),
        "checked_at": ts(report.checked_at),
        "target_findings": [_finding_record(f) for f in report.target_findings],
        "results": [_result_record(r) for r in report.results],
        "cadence": None if report.cadence is None else _cadence_record(report.cadence),
    }


def report(record: dict[str, Any]) -> TargetReport:
    """A stored report (``REPORT_FORMAT``)."""
    version = record.get("format")
    if version != REPORT_FORMAT:
        raise StoreError(f"a stored check result has format {version!r}; this version of certwatch reads 2")
    return TargetReport(
        endpoint=_endpoint(record["endpoint"]),
        results=tuple(_result(r) for r in record["results"]),
        checked_at=_moment(record["checked_at"]),
        target_findings=tuple(_finding(f) for f in record["target_findings"]),
        cadence=_cadence(record.get("cadence")),
    )


def _cadence_record(cadence: Cadence) -> dict[str, Any]:
    renewals = [_fields(r) | {"at": ts(r.at)} for r in cadence.renewals]
    return _fields(cadence) | {"renewals": renewals}


def _cadence(data: dict[str, Any] | None) -> Cadence | None:
    """A stored cadence; None if none."""
    if data is None:
        return None
    renewals = tuple(
        Renewal(
            at=_moment(r["at"]),
            days_since_previous_change=int(r["days_since_previous_change"]),
            age_days=int(r["age_days"]),
            days_left=int(r["days_left"]),
        )
        for r in data["renewals"]
    )
    return Cadence(int(data["certificates_seen"]), renewals, bool(data["publicly_trusted"]))


def _result_record(result: CheckResult) -> dict[str, Any]:
    """Every field of the result; its findings and certificates as records of their own."""
    return _fields(result) | {
        "checked_at": ts(result.checked_at),
        "findings": [_finding_record(f) for f in result.findings],
        "leaf": None if result.leaf is None else _certificate_record(result.leaf),
        "chain": [_certificate_record(c) for c in result.chain],
    }


def _result(data: dict[str, Any]) -> CheckResult:
    return CheckResult(
        address=data["address"],
        status=Status(data["status"]),
        checked_at=_moment(data["checked_at"]),
        findings=tuple(_finding(f) for f in data["findings"]),
        leaf=None if data["leaf"] is None else _certificate(data["leaf"]),
        chain=tuple(_certificate(c) for c in data["chain"]),
        trusted_by=data["trusted_by"],
        publicly_trusted=bool(data["publicly_trusted"]),
        tls_version=data["tls_version"],
        cipher=data["cipher"],
        elapsed_ms=float(data["elapsed_ms"]),
    )


def _endpoint_record(endpoint: Endpoint) -> dict[str, Any]:
    return _fields(endpoint) | {"protocol": endpoint.protocol.value}


def _endpoint(data: dict[str, Any]) -> Endpoint:
    return Endpoint(
        host=data["host"],
        port=int(data["port"]),
        protocol=Protocol(data["protocol"]),
        sni=data["sni"],
        host_is_address=bool(data["host_is_address"]),
    )


def _finding_record(finding: Finding) -> dict[str, Any]:
    record = {"code": finding.code.value, "severity": finding.severity.value, "message": finding.message}
    if finding.reason is not None:
        record["reason"] = finding.reason.value
    return record


def _finding(data: dict[str, Any]) -> Finding:
    reason = data.get("reason")
    return Finding(
        FindingCode(data["code"]),
        Severity(data["severity"]),
        data["message"],
        None if reason is None else FailureReason(reason),
    )


def _certificate_record(info: CertificateInfo) -> dict[str, Any]:
    """Every field of the certificate; times as ``ts`` text."""
    times = {"not_before": ts(info.not_before), "not_after": ts(info.not_after)}
    return _fields(info) | times | {"sans": list(info.sans), "ip_sans": list(info.ip_sans)}


def _certificate(data: dict[str, Any]) -> CertificateInfo:
    times = {"not_before": _moment(data["not_before"]), "not_after": _moment(data["not_after"])}
    names = {"sans": tuple(data["sans"]), "ip_sans": tuple(data["ip_sans"])}
    return CertificateInfo(**(data | times | names))


def _fields(record: Any) -> dict[str, Any]:
    """A dataclass's fields by name (one level deep: the caller encodes what JSON cannot hold)."""
    return {field.name: getattr(record, field.name) for field in dataclasses.fields(record)}


def _moment(text: str) -> datetime:
    """A stored UTC time (``ts``'s form)."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- certificate history ---------------------------------------------------------------------------


def sighting_item(team: str, target_id: str, sighting: Sighting) -> dict[str, Any]:
    return {
        "pk": TEAM + team,
        "sk": f"{HISTORY}{target_id}#{sighting.fingerprint}",
        "first_seen": ts(sighting.first_seen),
        "not_before": ts(sighting.not_before),
        "not_after": ts(sighting.not_after),
        "public": sighting.publicly_trusted,
    }


def sighting(item: dict[str, Any]) -> tuple[str, Sighting]:
    """The target id and the sighting an item holds."""
    target_id, fingerprint = item["sk"].removeprefix(HISTORY).split("#", 1)
    return target_id, Sighting(
        fingerprint=fingerprint,
        first_seen=parse_ts(item["first_seen"]),
        not_before=parse_ts(item["not_before"]),
        not_after=parse_ts(item["not_after"]),
        publicly_trusted=bool(item.get("public", False)),
    )


# --- alert state, the outbox and tokens ------------------------------------------------------------


def alert_state_item(state: AlertState) -> dict[str, Any]:
    item: dict[str, Any] = {
        "announced": sorted(state.announced),
        "failures": state.failures,
        "unreachable": state.unreachable,
        "unreachable_episode": state.unreachable_episode,
        "problems": sorted(state.problems),
        "problem_episode": state.problem_episode,
    }
    if state.fingerprint is not None:
        item["fingerprint"] = state.fingerprint
    return item


def alert_state(item: dict[str, Any]) -> AlertState:
    return AlertState(
        fingerprint=item.get("fingerprint"),
        announced=frozenset(item.get("announced", [])),
        failures=int(item.get("failures", 0)),
        unreachable=bool(item.get("unreachable", False)),
        unreachable_episode=int(item.get("unreachable_episode", 0)),
        problems=frozenset(item.get("problems", [])),
        problem_episode=int(item.get("problem_episode", 0)),
    )


NOTIFICATION_FORMAT = 2  # the outbox's format: typed facts, not a rendered message


def notification_record(note: Notification) -> dict[str, Any]:
    """A notification as the outbox keeps it: the facts its channels render, not a rendered message."""
    event, subject, observed = note.event, note.subject, note.observed
    return {
        "format": NOTIFICATION_FORMAT,
        "key": note.key,
        "team": note.team,
        "target_id": note.target_id,
        "created_at": ts(note.created_at),
        "silenced_by": note.silenced_by,
        "event": _fields(event)
        | {"type": event.type.value, "severity": event.severity.value}
        | {"findings": [_finding_record(f) for f in event.findings], "holders": [h.encode() for h in event.holders]},
        "subject": _fields(subject)
        | {
            "alert_days": None if subject.alert_days is None else list(subject.alert_days),
            "endpoint": None if subject.endpoint is None else _endpoint_record(subject.endpoint),
            "labels": dict(subject.labels),
            "managed": None if subject.managed is None else _managed_record(subject.managed),
        },
        "observed": {
            "leaf": None if observed.leaf is None else _certificate_record(observed.leaf),
            "findings": [_finding_record(f) for f in observed.findings],
            "status": observed.status.value,
            "days_left": observed.days_left,
            "checked_at": None if observed.checked_at is None else ts(observed.checked_at),
        },
    }


def notification(data: dict[str, Any]) -> Notification:
    version = data.get("format")
    if version != NOTIFICATION_FORMAT:
        raise StoreError(f"a stored notification has format {version!r}; this version of certwatch reads 2")
    event, subject, observed = data["event"], data["subject"], data["observed"]
    return Notification(
        key=data["key"],
        team=data["team"],
        target_id=data["target_id"],
        event=AlertEvent(
            key=event["key"],
            type=EventType(event["type"]),
            severity=Severity(event["severity"]),
            summary=event["summary"],
            threshold_days=event["threshold_days"],
            previous_fingerprint=event["previous_fingerprint"],
            findings=tuple(_finding(f) for f in event["findings"]),
            holders=tuple(Holder.decode(h) for h in event["holders"]),
        ),
        subject=AlertSubject(
            id=subject["id"],
            team=subject["team"],
            warn_days=int(subject["warn_days"]),
            critical_days=int(subject["critical_days"]),
            alert_days=None if subject["alert_days"] is None else tuple(int(d) for d in subject["alert_days"]),
            endpoint=None if subject["endpoint"] is None else _endpoint(subject["endpoint"]),
            labels={str(k): str(v) for k, v in subject["labels"].items()},
            managed=None if subject["managed"] is None else _managed(subject["managed"]),
            # Absent from what was recorded before subjects carried them.
            owner=subject.get("owner"),
            runbook_url=subject.get("runbook_url"),
            notes=subject.get("notes"),
        ),
        observed=Observation(
            leaf=None if observed["leaf"] is None else _certificate(observed["leaf"]),
            findings=tuple(_finding(f) for f in observed["findings"]),
            status=Status(observed["status"]),
            days_left=observed["days_left"],
            checked_at=None if observed["checked_at"] is None else _moment(observed["checked_at"]),
        ),
        created_at=parse_ts(data["created_at"]),
        silenced_by=data.get("silenced_by"),
    )


def _managed_record(cert: ManagedCertificate) -> dict[str, Any]:
    times = {
        name: None if (moment := getattr(cert, name)) is None else ts(moment) for name in ("not_before", "not_after")
    }
    return (
        _fields(cert)
        | times
        | {"source": cert.source.value, "sans": list(cert.sans), "in_use_by": list(cert.in_use_by)}
    )


def _managed(data: dict[str, Any]) -> ManagedCertificate:
    times = {name: None if data[name] is None else _moment(data[name]) for name in ("not_before", "not_after")}
    lists = {"sans": tuple(data["sans"]), "in_use_by": tuple(data["in_use_by"])}
    return ManagedCertificate(**(data | times | lists | {"source": Source(data["source"])}))


def token_item(record: TokenRecord) -> dict[str, Any]:
    return {
        "pk": TOKENS,
        "sk": record.token_id,
        "team": record.team,
        "admin": record.admin,
        "secret_hash": record.secret_hash,
        "created_at": ts(record.created_at),
        "name": record.name,
    }


def token(item: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        token_id=item["sk"],
        team=item["team"],
        admin=bool(item["admin"]),
        secret_hash=item["secret_hash"],
        created_at=parse_ts(item["created_at"]),
        name=item.get("name", ""),
    )


# --- certificates' holders and the team's settings ----------------------------------------------------


def holders(members: object) -> frozenset[Holder]:
    """A stored string set of holders (absent when empty: DynamoDB keeps no empty set)."""
    return frozenset(Holder.decode(str(m)) for m in members or ())  # type: ignore[attr-defined]


def team_settings_item(settings: TeamSettings) -> dict[str, Any]:
    return _fields(settings)


def team_settings(item: dict[str, Any]) -> TeamSettings:
    defaults = TeamSettings()
    return TeamSettings(group_by_certificate=bool(item.get("group_by_certificate", defaults.group_by_certificate)))


# --- silences and maintenance windows ---------------------------------------------------------------


def silence_record(silence: Silence) -> dict[str, Any]:
    moments = {name: _ts_or_none(getattr(silence, name)) for name in ("created_at", "ends_at", "ended_at")}
    return _fields(silence) | moments | {"match": silence.match.value}


def silence(data: dict[str, Any]) -> Silence:
    moments = {name: _moment_or_none(data[name]) for name in ("created_at", "ends_at", "ended_at")}
    return Silence(**(data | moments | {"match": Match(data["match"])}))


def window_record(window: MaintenanceWindow) -> dict[str, Any]:
    names = ("starts_at", "ends_at", "created_at", "ended_at")
    return (
        _fields(window) | {name: _ts_or_none(getattr(window, name)) for name in names} | {"labels": dict(window.labels)}
    )


def window(data: dict[str, Any]) -> MaintenanceWindow:
    names = ("starts_at", "ends_at", "created_at", "ended_at")
    return MaintenanceWindow(**(data | {name: _moment_or_none(data[name]) for name in names}))


def _ts_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else ts(moment)


def _moment_or_none(text: str | None) -> Any:
    return None if text is None else _moment(text)
