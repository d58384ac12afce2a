"""How certwatch's records look in the table: their keys, and each domain object as item attributes.

Timestamps are fixed-width UTC text (they sort as text in the same order as in time); a check's
full report is kept as JSON in a format of its own (``REPORT_FORMAT``), apart from the API's
rendering, so changing what the API shows never changes what is stored.

A domain object is stored as every field of its dataclass by name (``_record``) and read back by
the types its dataclass declares (``_read``): a field added to the domain is stored and read
without an edit here, and a record written before it existed reads with the field's default.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.domain.alerts import AlertEvent, AlertState, Holder, Notification
from chalicelib.domain.cadence import Cadence, Sighting
from chalicelib.domain.domains import Issuance, WatchedDomain
from chalicelib.domain.inventory import ManagedCertificate
from chalicelib.domain.models import Endpoint, Protocol, TargetReport
from chalicelib.domain.schedule import Slot, Sweeps
from chalicelib.domain.silences import MaintenanceWindow, Silence
from chalicelib.domain.targets import ResultSummary, Target, TargetSpec, is_address, legacy_endpoint_key
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import TokenRecord
from chalicelib.errors import StoreError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# The sparse ``slots`` index (and the ``due`` index before it) is spread over this many partitions
# (the last hex digits of the id), so the sweep's queries never all land on one hot partition.
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
SCHEDULE = "SCHEDULE"  # sort key SWEPT: where the sweeps' claimed windows end
SWEPT = "SWEPT"
DOMAINS = "DOMAINS"  # the partition of every watched domain: sort key <team>#<id>
ISSUANCE = "I#"  # then an issuance's TBS hash: a CT issuance of the team's watched names


def due_shard(target_id: str) -> str:
    return str(int(target_id[-2:], 16) % DUE_SHARDS)


# The greatest phase a slot key holds (7 digits of seconds; a 30-day period is 2,592,000): the key of a period's
# last one sorts after all of that period's slots.
LAST_PHASE = 9_999_999


def slot_key(slot: Slot) -> str:
    """A slot as the ``slots`` index's sort key: period, then phase, as fixed-width seconds (a 30-day period fits)."""
    return f"{slot.period:07d}#{slot.phase:07d}"


def slot_of_key(key: str) -> Slot:
    period, phase = key.split("#")
    return Slot(int(period), int(phase))


def slot_attributes(target: Target) -> dict[str, str]:
    """What puts an unpaused target on the ``slots`` index: its shard and its slot."""
    slot = Slot.of(target.scheduled_at, target.spec.check_interval_minutes)
    return {"slot_shard": due_shard(target.id), "slot": slot_key(slot)}


def sweeps_item(sweeps: Sweeps) -> dict[str, Any]:
    return {
        "pk": SCHEDULE,
        "sk": SWEPT,
        "until": ts(sweeps.until),
        "marked": ts(sweeps.marked),
        "rechecked": ts(sweeps.rechecked),
    }


def sweeps(item: dict[str, Any]) -> Sweeps:
    until = parse_ts(item["until"])  # an item of the version before slots holds its windows' end alone
    return Sweeps(until, parse_ts(item.get("marked", item["until"])), parse_ts(item.get("rechecked", item["until"])))


# What a target item carried when the ``due`` index (``due_shard``, ``next_check_at``) held its next check,
# and the sweep's lease on it: an item is moved onto its slot with them removed.
LEGACY_SCHEDULE = ("due_shard", "next_check_at", "leased_until")


# --- targets and their latest result --------------------------------------------------------------


def target_item(target: Target) -> dict[str, Any]:
    """A target as its item: its keys, schedule and endpoint, and each field of its spec that is set, by name."""
    endpoint = target.spec.endpoint
    item: dict[str, Any] = {
        "pk": TEAM + target.team,
        "sk": TARGET + target.id,
        "id": target.id,
        "team": target.team,
        "host": endpoint.host,
        "port": endpoint.port,
        "protocol": endpoint.protocol.value,
        "paused": target.paused,
        "source": target.source,
        "created_at": ts(target.created_at),
        "updated_at": ts(target.updated_at),
        "scheduled_at": ts(target.scheduled_at),
        # The key of its uniqueness item, as written: a delete removes that one item whatever
        # later versions derive from the endpoint.
        "unique_key": target.key,
    }
    spec = _record(target.spec) | {"sni": endpoint.sni}
    item |= {name: value for name, value in spec.items() if name != "endpoint" and value is not None}
    if not target.paused:
        item |= slot_attributes(target)
    if target.latest is not None:
        item |= summary_attributes(target.latest)
    return item


# Every attribute of a summary: a check writes those it has and removes the others.
SUMMARY_OPTIONAL = tuple(f"latest_{field.name}" for field in dataclasses.fields(ResultSummary))


def summary_attributes(summary: ResultSummary) -> dict[str, Any]:
    """The latest result's summary as attributes of the target's item: each field that is set, ``latest_`` first."""
    return {f"latest_{name}": value for name, value in _record(summary).items() if value is not None}


def unique_key(item: dict[str, Any]) -> str:
    """The key of a stored target's uniqueness item (``U#``): as written, else as versions that kept none wrote it."""
    return str(item["unique_key"]) if "unique_key" in item else legacy_endpoint_key(target(item).endpoint)


def target(item: dict[str, Any]) -> Target:
    # As stored, never parsed again: a name an earlier version accepted (IDNA 2003) must still read.
    host = item["host"]
    endpoint = Endpoint(host, int(item["port"]), Protocol(item["protocol"]), item.get("sni"), is_address(host))
    spec = _read(TargetSpec, item, endpoint=endpoint)
    latest = None
    if "latest_status" in item:
        summary = {name.removeprefix("latest_"): value for name, value in item.items() if name.startswith("latest_")}
        latest = _read(ResultSummary, summary)
    return Target(
        id=item["id"],
        team=item["team"],
        spec=spec,
        created_at=parse_ts(item["created_at"]),
        updated_at=parse_ts(item["updated_at"]),
        # An item not yet moved onto its slot: anchored at the next check the ``due`` index held.
        scheduled_at=parse_ts(item.get("scheduled_at") or item["next_check_at"]),
        paused=bool(item.get("paused", False)),
        source=item.get("source", "api"),
        latest=latest,
    )


# --- a check's full report ------------------------------------------------------------------------


def report_record(report: TargetReport) -> dict[str, Any]:
    """A report as stored (JSON-ready): every field, timestamps to the microsecond."""
    return {"format": REPORT_FORMAT, **_record(report)}


def report(record: dict[str, Any]) -> TargetReport:
    """A stored report (``REPORT_FORMAT``)."""
    version = record.get("format")
    if version != REPORT_FORMAT:
        raise StoreError(f"a stored check result has format {version!r}; this version of certwatch reads 2")
    return _read(TargetReport, record)


def plain(value: Any) -> Any:
    """A domain value as an attribute holds it (a dataclass as a map of its fields, by name)."""
    return _record(value)


def _record(value: Any) -> Any:
    """A domain value as stored (JSON-ready): a dataclass as every field by name, times as ``ts``,
    dates as ISO dates, enums as their values, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _record(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return ts(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_record(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _record(item) for key, item in value.items()}
    return value


def _read[T](kind: type[T], data: Mapping[str, Any], **given: Any) -> T:
    """A dataclass read back from its record by the types it declares (``given`` fields as given).

    A field the record lacks takes the dataclass's default (the record was written before the
    field existed), or None where it has none but may be None (an item leaves out what is None).
    """
    values = dict(given)
    for name, (hint, may_be_left_out) in _declared(kind).items():
        if name in values:
            continue
        if name in data:
            values[name] = _typed(hint, data[name])
        elif may_be_left_out:
            values[name] = None
    return kind(**values)


# What the domain's modules import only for type checking (they import each other).
_TYPE_CHECKING_ONLY = {"Cadence": Cadence, "ManagedCertificate": ManagedCertificate}
_DECLARED: dict[type, dict[str, tuple[Any, bool]]] = {}


def _declared(kind: type) -> dict[str, tuple[Any, bool]]:
    """Each field a dataclass is built with: its declared type, and whether a record leaves it out when None
    (it has no default, and may be None). Read for every record."""
    if kind not in _DECLARED:
        hints = get_type_hints(kind, localns=_TYPE_CHECKING_ONLY)
        _DECLARED[kind] = {
            field.name: (hints[field.name], _no_default(field) and _admits_none(hints[field.name]))
            for field in dataclasses.fields(kind)
            if field.init
        }
    return _DECLARED[kind]


def _no_default(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _admits_none(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _typed(annotation: Any, value: Any) -> Any:
    """A stored value as its declared type (DynamoDB's numbers are Decimal, JSON's arrays lists)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _typed(args[0], value)
    if value is None:
        return None
    if origin in (Union, types.UnionType):
        (member,) = [arg for arg in args if arg is not type(None)]
        return _typed(member, value)
    if origin in (tuple, frozenset):
        return origin(_typed(args[0], item) for item in value)
    if origin in (dict, Mapping):
        return {str(key): _typed(args[1], item) for key, item in value.items()}
    if annotation is datetime:
        return _moment(value)
    if annotation is date:
        return date.fromisoformat(value)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation(value)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _read(annotation, value)
    if annotation in (int, float, bool, str):
        return annotation(value)
    return value


def _moment(text: str) -> datetime:
    """A stored UTC time (``ts``'s form)."""
    return datetime.fromisoformat(text).astimezone(UTC)


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
    record: dict[str, Any] = _record(note)
    record["event"]["holders"] = [holder.encode() for holder in note.event.holders]
    return {"format": NOTIFICATION_FORMAT, **record}


def notification(data: dict[str, Any]) -> Notification:
    version = data.get("format")
    if version != NOTIFICATION_FORMAT:
        raise StoreError(f"a stored notification has format {version!r}; this version of certwatch reads 2")
    holders = tuple(Holder.decode(h) for h in data["event"]["holders"])
    return _read(Notification, data, event=_read(AlertEvent, data["event"], holders=holders))


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
    return dict(_record(settings))


def team_settings(item: dict[str, Any]) -> TeamSettings:
    return _read(TeamSettings, item)


# --- silences and maintenance windows ---------------------------------------------------------------


def silence_record(silence: Silence) -> dict[str, Any]:
    return dict(_record(silence))


def silence(data: dict[str, Any]) -> Silence:
    return _read(Silence, data)


def window_record(window: MaintenanceWindow) -> dict[str, Any]:
    return dict(_record(window))


def window(data: dict[str, Any]) -> MaintenanceWindow:
    return _read(MaintenanceWindow, data)


# --- watched domains and their CT issuances ---------------------------------------------------------


def watched_domain_record(domain: WatchedDomain) -> dict[str, Any]:
    return dict(_record(domain))


def watched_domain(data: dict[str, Any]) -> WatchedDomain:
    return _read(WatchedDomain, data)


def issuance_record(issuance: Issuance) -> dict[str, Any]:
    return dict(_record(issuance))


def issuance(data: dict[str, Any]) -> Issuance:
    return _read(Issuance, data)
