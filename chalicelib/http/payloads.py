"""Reading API input (JSON bodies, CSV uploads, query strings) into domain objects, strictly.

Unknown fields are refused rather than dropped, booleans are not numbers, and every refusal is
an InvalidRequestError that names the field. Which fields there are, their bounds and their
defaults come from the declared shapes (``chalicelib/presentation/shapes.py``), the declaration
the OpenAPI document is generated from.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.domain.domains import DomainRequest, watchable
from chalicelib.domain.endpoints import PROTOCOLS, endpoint_from_parts, normalize_hostname, parse_target
from chalicelib.domain.inventory import InventoryQuery, RowStatus, Source
from chalicelib.domain.models import Endpoint, FindingCode, PosturePolicy, Status, check_thresholds
from chalicelib.domain.silences import Match, SilenceRequest, WindowRequest
from chalicelib.domain.targets import CLEARABLE, RejectedRow, TargetChanges, TargetFilter, TargetSpec, runbook_problem
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import pasted_token_id
from chalicelib.errors import (
    CertwatchError,
    InvalidRequestError,
    InvalidTargetError,
    InvalidValueError,
    TrustStoreError,
)
from chalicelib.presentation import shapes
from chalicelib.presentation.schema import ABSENT, Field, Spec, fields

MAX_BODY_BYTES = 1024 * 1024
MAX_NUMBER_DIGITS = 20
# certwatch/admin_arguments.py still imports this one bound from here (shapes.MAX_DAYS declares it).
MAX_DAYS = shapes.MAX_DAYS

_WHOLE = re.compile(r"-?[0-9]{1,9}")  # a whole number in a query string or CSV cell (ASCII digits only)


def json_document(raw: bytes | None) -> Any:
    """The JSON value of a request body; 400 when it is not JSON, or holds what no field could."""
    if not raw:
        raise InvalidRequestError("the request body is empty; send a JSON object", code="malformed_json")
    try:
        document = json.loads(raw, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            code="malformed_json",
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidRequestError("the request body is not UTF-8 text", code="malformed_json") from exc
    except RecursionError as exc:
        raise InvalidRequestError(
            "the request body nests arrays or objects too deeply to be a target", code="malformed_json"
        ) from exc
    _refuse_lone_surrogates(document)
    return document


def _json_int(text: str) -> int:
    # Python refuses to convert more than 4300 digits (with a message about its own settings).
    if len(text) > MAX_NUMBER_DIGITS:
        raise InvalidRequestError(
            f"a number in the request body has {len(text)} digits; no field takes more than {MAX_NUMBER_DIGITS}"
        )
    return int(text)


def _refuse_lone_surrogates(document: object) -> None:
    """Refuse a string holding half a UTF-16 surrogate pair (``"\\udc00"``): it is no Unicode text.

    JSON may spell one, but it cannot be stored or encoded; the field it is in is named (for a
    bulk row, the row's field). Iterative: the parser already allowed the document's depth.
    """
    pending: list[tuple[object, str | None]] = [(document, None)]
    while pending:
        value, field = pending.pop()
        if isinstance(value, str) and not _is_text(value):
            raise InvalidRequestError(
                f"{field or 'the request body'} holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), "
                "which is not text",
                field=field,
            )
        if isinstance(value, dict):
            for key, item in value.items():
                name = field or (key if _is_text(key) else None)
                pending += [(key, name), (item, name)]
        elif isinstance(value, list):
            pending += [(item, field) for item in value]


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def target_spec(data: object) -> TargetSpec:
    """A TargetSpec from a ``POST /targets`` body (or one bulk row): a ``shapes.TargetInput``."""
    declared = fields(shapes.TargetInput)
    body = _object(data, "the target")
    _refuse_unknown(body, set(declared))
    _refuse_tokens(body)
    sni = _optional_str(body, declared["sni"])
    endpoint = _endpoint(body, sni, declared)
    warn_days = _int(body, declared["warn_days"])
    critical_days = _int(body, declared["critical_days"])
    check_thresholds(warn_days, critical_days)
    return TargetSpec(
        endpoint=endpoint,
        labels=_labels(body, declared["labels"]) or {},
        warn_days=warn_days,
        critical_days=critical_days,
        check_interval_minutes=_int(body, declared["check_interval_minutes"]),
        ca_bundle=_ca_bundle(body, declared["ca_bundle"]),
        notes=_optional_str(body, declared["notes"]),
        owner=_optional_str(body, declared["owner"]),
        runbook_url=_runbook_url(body, declared["runbook_url"]),
        alert_days=_alert_days(body, declared["alert_days"]),
        revocation=bool(_bool(body, declared["revocation"])),
        ari=bool(_bool(body, declared["ari"])),
        posture=_own_posture(body),
    )


def team_settings(data: object, current: TeamSettings) -> TeamSettings:
    """``current`` with a ``PATCH /settings`` body applied (a ``shapes.TeamSettingsChanges``)."""
    declared = fields(shapes.TeamSettingsChanges)
    body = _object(data, "the request body")
    _refuse_unknown(body, set(declared))
    if not body:
        raise InvalidRequestError(f"nothing to change: send one or more of {', '.join(sorted(declared))}")
    grouping = _bool(body, declared["group_by_certificate"])
    posture = current.posture
    if "posture" in body:
        posture = replace(posture, **_posture_fields(body["posture"]))
    return replace(
        current,
        group_by_certificate=current.group_by_certificate if grouping is None else grouping,
        posture=posture,
    )


def _own_posture(body: Mapping[str, Any]) -> PosturePolicy | None:
    """A target's own posture policy, whole (its fields left out are their defaults); None: its team's."""
    given = body.get("posture")
    return None if given is None else PosturePolicy(**_posture_fields(given))


def _posture_fields(data: object) -> dict[str, Any]:
    """The fields a ``shapes.PostureInput`` sets, by name; a refusal names ``posture``."""
    declared = fields(shapes.PostureInput)
    try:
        body = _object(data, "posture")
        _refuse_unknown(body, set(declared))
        found: dict[str, Any] = {}
        for name, field in declared.items():
            if name not in body:
                continue
            found[name] = _date(body, field) if field.spec.format == "date" else _bool(body, field)
        return found
    except InvalidRequestError as exc:
        message = str(exc) if str(exc).startswith("posture") else f"posture: {exc}"
        raise InvalidRequestError(message, field="posture", code=exc.code) from exc


def _date(body: Mapping[str, Any], field: Field) -> date | None:
    """A calendar date (``2030-01-01``), or null where null is allowed."""
    value = body.get(field.name)
    if value is None and field.spec.nullable:
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"{field.name} must be a date such as 2030-01-01", field=field.name) from None


def silence_request(data: object, now: datetime) -> SilenceRequest:
    """A ``POST /silences`` body (a ``shapes.SilenceInput``): what to quiet, until when, and why."""
    declared = fields(shapes.SilenceInput)
    body = _object(data, "the request body")
    _refuse_unknown(body, set(declared))
    _refuse_tokens(body)
    named = [m for m in Match if m.value in body]
    if len(named) != 1:
        raise InvalidRequestError("name one thing to silence: target, certificate, label or finding", field="target")
    (match,) = named
    value = _pattern_str(body, declared[match.value])
    if match is Match.FINDING and value not in {c.value for c in FindingCode}:
        raise InvalidRequestError(
            f"finding must be a finding code, such as HOSTNAME_MISMATCH: {value!r}", field="finding"
        )
    if ("days" in body) == ("ends_at" in body):
        raise InvalidRequestError("say for how long: days, or ends_at (one of them)", field="days")
    days = _int(body, declared["days"])
    ends_at = now + timedelta(days=days) if days is not None else _moment(body, declared["ends_at"])
    return SilenceRequest(
        match=match,
        value=value,
        reason=_text(body, declared["reason"]),
        ends_at=ends_at,
        until_certificate_changes=bool(_bool(body, declared["until_certificate_changes"])),
        author=_optional_str(body, declared["author"]),
    )


def window_request(data: object, now: datetime) -> WindowRequest:
    """A ``POST /maintenance`` body (a ``shapes.MaintenanceInput``)."""
    declared = fields(shapes.MaintenanceInput)
    body = _object(data, "the request body")
    _refuse_unknown(body, set(declared))
    _refuse_tokens(body)
    return WindowRequest(
        starts_at=_moment(body, declared["starts_at"]) if "starts_at" in body else now,
        ends_at=_moment(body, declared["ends_at"]),
        reason=_text(body, declared["reason"]),
        labels=_labels(body, declared["labels"]) or {},
        author=_optional_str(body, declared["author"]),
    )


def _moment(body: Mapping[str, Any], field: Field) -> datetime:
    """A date-time with its offset (RFC 3339: ``2026-12-01T08:00:00Z``), in UTC."""
    value = body.get(field.name)
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(
            f"{field.name} must be a date and time with its offset, such as 2026-12-01T08:00:00Z", field=field.name
        ) from None
    if moment.tzinfo is None:
        raise InvalidRequestError(f"{field.name} needs its offset (Z for UTC)", field=field.name)
    return moment.astimezone(UTC)


def _text(body: Mapping[str, Any], field: Field) -> str:
    """A required text within the field's declared length."""
    value = body.get(field.name)
    if not isinstance(value, str) or not value.strip() or not _fits_length(field.spec, len(value)):
        raise InvalidRequestError(
            f"{field.name} must be text of {field.spec.min_length}-{field.spec.max_length} characters",
            field=field.name,
        )
    return value


def _pattern_str(body: Mapping[str, Any], field: Field) -> str:
    value = body.get(field.name)
    if not isinstance(value, str) or not _matches(field.spec, value):
        raise InvalidRequestError(f"{field.name}: {field.spec.doc or 'not in the form it takes'}", field=field.name)
    return value


def target_changes(data: object) -> TargetChanges:
    """A TargetChanges from a ``PATCH /targets/{id}`` body (a ``shapes.TargetChanges``); ``"notes": null``
    clears the notes (and so for owner and runbook_url)."""
    declared = fields(shapes.TargetChanges)
    body = _object(data, "the request body")
    _refuse_unknown(body, set(declared))
    _refuse_tokens(body)
    if not body:
        raise InvalidRequestError(f"nothing to change: send one or more of {', '.join(sorted(declared))}")
    paused = _bool(body, declared["paused"])
    return TargetChanges(
        labels=_labels(body, declared["labels"]),
        warn_days=_int(body, declared["warn_days"]),
        critical_days=_int(body, declared["critical_days"]),
        check_interval_minutes=_int(body, declared["check_interval_minutes"]),
        notes=_optional_str(body, declared["notes"]),
        owner=_optional_str(body, declared["owner"]),
        runbook_url=_runbook_url(body, declared["runbook_url"]),
        cleared=frozenset(name for name in CLEARABLE if name in body and body[name] is None),
        paused=paused,
        alert_days=_alert_days(body, declared["alert_days"]),
        revocation=_bool(body, declared["revocation"]),
        ari=_bool(body, declared["ari"]),
        posture=_own_posture(body),
    )


def bulk_rows(raw: bytes | None, content_type: str) -> list[TargetSpec | RejectedRow]:
    """The rows of a ``POST /targets/bulk`` body: a JSON list, or CSV with a header row."""
    if content_type.split(";")[0].strip().lower() == "text/csv":
        rows = _csv_rows(raw or b"")
    else:
        document = json_document(raw)
        if isinstance(document, dict) and set(document) == {"targets"}:
            document = document["targets"]
        if not isinstance(document, list):
            raise InvalidRequestError("send a JSON list of targets (or CSV with Content-Type: text/csv)")
        rows = document
    if all(row == {} for row in rows):
        raise InvalidRequestError("no targets in the request")
    limit = fields(shapes.BulkUpload)["targets"].spec.max_length
    if limit is not None and len(rows) > limit:
        raise InvalidRequestError(f"{len(rows)} targets in one request; the limit is {limit}")
    return bulk_specs(rows)


def bulk_specs(rows: list[Any]) -> list[TargetSpec | RejectedRow]:
    """Each row of a bulk upload read as a TargetSpec, or refused with the reason (never raises)."""
    read: list[TargetSpec | RejectedRow] = []
    for row in rows:
        if isinstance(row, RejectedRow):
            read.append(row)
            continue
        try:
            read.append(target_spec(row))
        except InvalidValueError as exc:
            read.append(RejectedRow(str(exc), exc.code))
    return read


def target_filter(query: Mapping[str, str], now: datetime) -> TargetFilter:
    """The filters of ``GET /targets`` (a ``shapes.TargetQuery``): status, label=key:value, expiring_within_days."""
    declared = fields(shapes.TargetQuery)
    status = _choice(query, "status", Status)
    label = None
    if "label" in query:
        if not _matches(declared["label"].spec, query["label"]):
            raise InvalidRequestError("label must be key:value", field="label")
        key, _, value = query["label"].partition(":")
        label = (key, value)
    expiring_before = None
    expiring = declared["expiring_within_days"]
    if expiring.name in query:
        days = _int(_numbers(query, {expiring.name}), expiring)
        expiring_before = now + timedelta(days=days)
    return TargetFilter(status=status, label=label, expiring_before=expiring_before)


def page_limit(query: Mapping[str, str]) -> int:
    """The ``limit`` of a listing's query string (a ``shapes.PageQuery``)."""
    limit = fields(shapes.PageQuery)["limit"]
    return int(_int(_numbers(query, {limit.name}), limit))


def refuse_unknown_params(query: Mapping[str, str], allowed: set[str]) -> None:
    _refuse_unknown(query, allowed, what="query parameter")


def _endpoint(body: Mapping[str, Any], sni: str | None, declared: Mapping[str, Field]) -> Endpoint:
    if sni is not None:
        try:
            normalize_hostname(sni, what="sni")
        except InvalidTargetError as exc:
            raise InvalidRequestError(str(exc), field="sni") from exc
    protocol = body.get("protocol", declared["protocol"].default)
    if not isinstance(protocol, str) or protocol.lower() not in PROTOCOLS:
        raise InvalidRequestError(f"protocol must be one of {', '.join(sorted(PROTOCOLS))}", field="protocol")
    has_target = "target" in body
    has_parts = any(name in body for name in ("host", "port", "protocol"))
    try:
        if has_target and has_parts:
            raise InvalidRequestError("give either target or host/port/protocol, not both", field="target")
        if has_target:
            text = body["target"]
            if not isinstance(text, str):
                raise InvalidRequestError("target must be a string such as https://example.com:8443", field="target")
            return parse_target(text, sni=sni)
        if "host" not in body:
            raise InvalidRequestError("target (or host) is required", field="target")
        host = body["host"]
        if not isinstance(host, str):
            raise InvalidRequestError("host must be a string", field="host")
        port = _int(body, declared["port"])
        return endpoint_from_parts(host, port, protocol, sni)
    except InvalidTargetError as exc:
        raise InvalidRequestError(str(exc), field="target" if has_target else "host") from exc


def _labels(body: Mapping[str, Any], field: Field) -> dict[str, str] | None:
    """A map of labels; None when the body has none."""
    if field.name not in body:
        return None
    value, spec = body[field.name], field.spec
    keys, values = spec.keys or Spec("string"), spec.items or Spec("string")
    if not isinstance(value, dict):
        raise InvalidRequestError("labels must be an object of strings", field=field.name)
    if not _fits_length(spec, len(value)):
        raise InvalidRequestError(f"at most {spec.max_length} labels", field=field.name)
    for key, text in value.items():
        if not _matches(keys, key):
            raise InvalidRequestError(f"label key {key!r}: use 1-64 of A-Z a-z 0-9 _ . - /", field=field.name)
        if not isinstance(text, str) or not _fits_length(values, len(text)):
            raise InvalidRequestError(
                f"label {key!r} must be a string of at most {values.max_length} characters", field=field.name
            )
    return dict(value)


def _alert_days(body: Mapping[str, Any], field: Field) -> tuple[int, ...] | None:
    """A target's own alert thresholds: a list of distinct day counts."""
    value, spec = body.get(field.name), field.spec
    if value is None:
        return None
    each = spec.items or Spec("integer")
    days = [_whole(d) for d in value] if isinstance(value, list) else []
    if not (days and _fits_length(spec, len(days))) or not all(d is not None and _in_range(each, d) for d in days):
        raise InvalidRequestError(
            f"{field.name} must be a list of {spec.min_length}-{spec.max_length} whole numbers of days "
            f"({each.low}-{each.high})",
            field=field.name,
        )
    return tuple(sorted({d for d in days if d is not None}, reverse=True))


def _ca_bundle(body: Mapping[str, Any], field: Field) -> str | None:
    value = body.get(field.name)
    if value is None:
        return None
    if not isinstance(value, str) or not _fits_length(field.spec, len(value)):
        raise InvalidRequestError(
            f"{field.name} must be PEM text of at most {field.spec.max_length} bytes", field=field.name
        )
    from chalicelib.domain.truststore import parse_pem_bundle  # cryptography: only when a bundle is sent

    try:
        parse_pem_bundle(value.encode(), source=field.name)
    except TrustStoreError as exc:
        raise InvalidRequestError(str(exc), field=field.name) from exc
    return value


def _runbook_url(body: Mapping[str, Any], field: Field) -> str | None:
    """A runbook's http(s) URL, kept as written (``targets.runbook_problem`` says what one is)."""
    value = _optional_str(body, field)
    problem = None if value is None else runbook_problem(value)
    if problem is not None:
        raise InvalidRequestError(f"{field.name} must be {problem}", field=field.name)
    return value


def _int(body: Mapping[str, Any], field: Field) -> Any:
    """A whole number within the field's declared range; its declared default (or None) when absent or null."""
    name = field.name
    if name not in body or body[name] is None:
        return None if field.default is ABSENT else field.default
    value = _whole(body[name])
    if value is None:
        raise InvalidRequestError(f"{name} must be a whole number", field=name)
    if not _in_range(field.spec, value):
        raise InvalidRequestError(f"{name} must be between {field.spec.low} and {field.spec.high}", field=name)
    return value


def _in_range(spec: Spec, value: int) -> bool:
    return (spec.low is None or spec.low <= value) and (spec.high is None or value <= spec.high)


def _fits_length(spec: Spec, length: int) -> bool:
    return (spec.min_length is None or spec.min_length <= length) and (
        spec.max_length is None or length <= spec.max_length
    )


def _matches(spec: Spec, text: str) -> bool:
    return spec.pattern is None or re.fullmatch(spec.pattern, text) is not None


def _bool(body: Mapping[str, Any], field: Field) -> bool | None:
    """True or false; the field's declared default (or None) when absent, or null where null is allowed."""
    if field.name not in body or (body[field.name] is None and field.spec.nullable):
        return None if field.default is ABSENT else bool(field.default)
    value = body[field.name]
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{field.name} must be true or false", field=field.name)
    return value


def _whole(value: object) -> int | None:
    """A JSON whole number as an int: 30, or 30.0 (an integer to JSON Schema too); never true or 30.5."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _optional_str(body: Mapping[str, Any], field: Field) -> str | None:
    value = body.get(field.name)
    if value is None:
        return None
    if not isinstance(value, str) or not _fits_length(field.spec, len(value)):
        raise InvalidRequestError(
            f"{field.name} must be a string of at most {field.spec.max_length} characters", field=field.name
        )
    if not _matches(field.spec, value):  # owner: one line, no control characters
        raise InvalidRequestError(
            f"{field.name} must be one line of text, without control characters", field=field.name
        )
    return value


def _object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequestError(f"{what} must be a JSON object")
    return data


def _refuse_tokens(body: Mapping[str, Any]) -> None:
    """Refuse an API token pasted into a target's fields: stored, it would be shown in every listing."""
    pending: list[tuple[object, str]] = [(value, name) for name, value in body.items()]
    while pending:
        value, name = pending.pop()
        if isinstance(value, dict):
            pending += [(item, name) for pair in value.items() for item in pair]
        elif isinstance(value, list):
            pending += [(item, name) for item in value]
        elif isinstance(value, str) and (token_id := pasted_token_id(value)) is not None:
            raise InvalidRequestError(
                f"{name} holds an API token (cw_{token_id}_...): a token belongs in the Authorization header "
                f"only; revoke this one, it may be in logs now (certwatch token revoke {token_id})",
                field=name,
            )


def _refuse_unknown(body: Mapping[str, Any], allowed: set[str], *, what: str = "field") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequestError(
            f"unknown {what} {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
            field=unknown[0],
            code=f"unknown_{what.replace(' ', '_')}",
        )


def _csv_rows(raw: bytes) -> list[object]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError("the CSV is not UTF-8 text", code="malformed_csv") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))  # the csv module reads line ends itself
    header = reader.fieldnames or []
    declared = fields(shapes.TargetInput)
    unknown = [name for name in header if name.strip() not in declared]
    if not header or unknown:
        raise InvalidRequestError(
            f"CSV header must name columns among {', '.join(sorted(declared))}"
            + (f"; unknown column {unknown[0]!r}" if unknown else ""),
            code="malformed_csv",
        )
    names = [name.strip() for name in header]
    twice = next((name for index, name in enumerate(names) if name in names[:index]), None)
    if twice is not None:  # each row would keep only the last of its cells, silently
        raise InvalidRequestError(f"the CSV header names column {twice!r} twice", code="malformed_csv")
    rows: list[object] = []
    for record in _csv_records(reader):
        if None in record:  # DictReader's key for cells beyond the header
            rows.append(RejectedRow(f"the row has more cells than the header's {len(header)} columns", "malformed_csv"))
            continue
        row: dict[str, object] = {}
        for name, cell in record.items():
            if cell is None or not cell.strip():
                continue  # an empty cell means "the default"
            key = str(name).strip()
            kind = declared[key].spec.kind
            if kind == "object":  # labels
                row[key] = _csv_labels(cell)
            elif kind == "array":  # alert_days
                row[key] = [int(d) if _WHOLE.fullmatch(d.strip()) else d for d in cell.split(";") if d.strip()]
            elif kind == "boolean":  # revocation, ari
                row[key] = {"true": True, "false": False}.get(cell.strip().lower(), cell.strip())
            else:
                row[key] = cell.strip()
        # Kept even when empty, so row numbers match the upload.
        rows.append(_numbers(row, {name for name, field in declared.items() if field.spec.kind == "integer"}))
    return rows


def _csv_records(reader: csv.DictReader[str]) -> Iterator[dict[str | Any, str | Any]]:
    """The reader's records; a line the csv module cannot read (a cell over its size limit) is a 400."""
    try:
        yield from reader
    except csv.Error as exc:  # e.g. "field larger than field limit (131072)"
        line = reader.reader.line_num
        raise InvalidRequestError(f"CSV line {line} cannot be read: {exc}", code="malformed_csv") from exc


def _numbers(fields: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    """Query strings and CSV cells arrive as text: whole numbers among ``names`` become ints."""
    converted = dict(fields)
    for name in names & set(fields):
        value = fields[name]
        if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            converted[name] = int(value)
    return converted


def _csv_labels(cell: str) -> object:
    """``env=prod;tier=1`` (the spreadsheet form of a label map)."""
    labels: dict[str, str] = {}
    for pair in cell.split(";"):
        if pair.strip():
            key, sep, value = pair.partition("=")
            if not sep:
                return cell  # not a map: _labels refuses it with a message
            labels[key.strip()] = value.strip()
    return labels


def inventory_query(query: Mapping[str, str], now: datetime) -> InventoryQuery:
    """The filters of ``GET /certificates``: source, status, expiring_within_days, issuer."""
    source, status = _choice(query, "source", Source), _choice(query, "status", RowStatus)
    listing = target_filter({k: v for k, v in query.items() if k == "expiring_within_days"}, now)
    issuer = query.get("issuer")
    return InventoryQuery(source=source, status=status, expiring_before=listing.expiring_before, issuer=issuer)


def discover_request(raw: bytes | None) -> bool:
    """``POST /discover``: an empty body proposes; ``{"register": true}`` registers."""
    if not raw or not raw.strip():
        return False
    declared = fields(shapes.DiscoverRequest)
    body = _object(json_document(raw), "the request body")
    _refuse_unknown(body, set(declared))
    return bool(_bool(body, declared["register"]))


def _choice[E: enum.Enum](query: Mapping[str, str], name: str, kind: type[E]) -> E | None:
    """The enum member a query parameter names, None when absent; 400 listing the choices otherwise."""
    if name not in query:
        return None
    try:
        return kind(query[name])
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise InvalidRequestError(f"{name} must be one of {allowed}", field=name) from None


def domain_request(data: object) -> DomainRequest:
    """A ``POST /domains`` body (a ``shapes.DomainInput``): the domain, its scope, who issues for it, who owns it."""
    declared = fields(shapes.DomainInput)
    body = _object(data, "the request body")
    _refuse_unknown(body, set(declared))
    _refuse_tokens(body)
    if not isinstance(body.get("domain"), str):
        raise InvalidRequestError("domain must be a domain name, e.g. example.com", field="domain")
    return DomainRequest(
        domain=watchable(_text(body, declared["domain"])),
        include_subdomains=bool(_bool(body, declared["include_subdomains"])),
        allowed_issuers=_texts(body, declared["allowed_issuers"]),
        allowed_keys=tuple(k.lower() for k in _texts(body, declared["allowed_keys"])),
        owner=_optional_str(body, declared["owner"]),
        alert_days=_alert_days(body, declared["alert_days"]),
    )


def domain_rows(data: object) -> list[DomainRequest | CertwatchError]:
    """A ``POST /domains/bulk`` body: a JSON list of ``shapes.DomainInput``; a row that cannot be read is
    its error (that row is rejected, the others go on)."""
    if not isinstance(data, list):
        raise InvalidRequestError("the request body must be a JSON list of domains")
    if not 1 <= len(data) <= shapes.MAX_BULK_ROWS:
        raise InvalidRequestError(f"send 1-{shapes.MAX_BULK_ROWS} domains at once")
    rows: list[DomainRequest | CertwatchError] = []
    for row in data:
        try:
            rows.append(domain_request(row))
        except (InvalidValueError, InvalidTargetError) as exc:
            rows.append(exc)
    return rows


def _texts(body: Mapping[str, Any], field: Field) -> tuple[str, ...]:
    """A list of strings, each as the field's items allow; () when absent."""
    value, spec = body.get(field.name), field.spec
    if value is None:
        return ()
    each = spec.items or Spec("string")
    if not isinstance(value, list) or not _fits_length(spec, len(value)):
        raise InvalidRequestError(f"{field.name} must be a list of at most {spec.max_length} strings", field=field.name)
    for item in value:
        if not isinstance(item, str) or not _fits_length(each, len(item)) or not _matches(each, item.lower()):
            raise InvalidRequestError(
                f"{field.name}: {spec.doc or 'an item is not in the form it takes'}", field=field.name
            )
    return tuple(dict.fromkeys(value))
