"""Reading API input (JSON bodies, CSV uploads, query strings) into domain objects, strictly.

Unknown fields are refused rather than dropped, booleans are not numbers, and every refusal is
an InvalidRequestError that names the field.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.endpoints import PROTOCOLS, endpoint_from_parts, normalize_hostname, parse_target
from chalicelib.domain.inventory import InventoryQuery, Source
from chalicelib.domain.models import Endpoint, Status
from chalicelib.domain.targets import (
    DEFAULT_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES,
    RejectedRow,
    TargetChanges,
    TargetFilter,
    TargetSpec,
    check_thresholds,
)
from chalicelib.domain.truststore import parse_pem_bundle
from chalicelib.errors import InvalidRequestError, InvalidTargetError, TrustStoreError

MAX_BODY_BYTES = 1024 * 1024
MAX_BULK_ROWS = 1000
MAX_LABELS = 32
MAX_NOTES = 2000
MAX_CA_BUNDLE = 64 * 1024
MAX_DAYS = 3650
MAX_INTERVAL_MINUTES = 30 * 24 * 60
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_NUMBER_DIGITS = 20

LABEL_KEY = r"[A-Za-z0-9_.\-/]{1,64}"  # the whole key must match
MAX_LABEL_VALUE = 256
_LABEL_KEY = re.compile(LABEL_KEY)
_WHOLE = re.compile(r"-?[0-9]{1,9}")  # a whole number in a query string or CSV cell (ASCII digits only)
_SPEC_FIELDS = {
    "target",
    "host",
    "port",
    "protocol",
    "sni",
    "labels",
    "warn_days",
    "critical_days",
    "check_interval_minutes",
    "ca_bundle",
    "notes",
    "alert_days",
}
_PATCH_FIELDS = {"labels", "warn_days", "critical_days", "check_interval_minutes", "notes", "paused", "alert_days"}
_INT_FIELDS = {"port", "warn_days", "critical_days", "check_interval_minutes"}


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
    """A TargetSpec from a ``POST /targets`` body (or one bulk row)."""
    body = _object(data, "the target")
    _refuse_unknown(body, _SPEC_FIELDS)
    sni = _optional_str(body, "sni", 253)
    endpoint = _endpoint(body, sni)
    warn_days = _int(body, "warn_days", 0, MAX_DAYS, default=30)
    critical_days = _int(body, "critical_days", 0, MAX_DAYS, default=7)
    check_thresholds(warn_days, critical_days)
    return TargetSpec(
        endpoint=endpoint,
        labels=_labels(body.get("labels", {})),
        warn_days=warn_days,
        critical_days=critical_days,
        check_interval_minutes=_int(
            body, "check_interval_minutes", MIN_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES, default=DEFAULT_INTERVAL_MINUTES
        ),
        ca_bundle=_ca_bundle(body.get("ca_bundle")),
        notes=_optional_str(body, "notes", MAX_NOTES),
        alert_days=_alert_days(body.get("alert_days")),
    )


def target_changes(data: object) -> TargetChanges:
    """A TargetChanges from a ``PATCH /targets/{id}`` body; ``"notes": null`` clears the notes."""
    body = _object(data, "the request body")
    _refuse_unknown(body, _PATCH_FIELDS)
    if not body:
        raise InvalidRequestError(f"nothing to change: send one or more of {', '.join(sorted(_PATCH_FIELDS))}")
    paused = body.get("paused")
    if paused is not None and not isinstance(paused, bool):
        raise InvalidRequestError("paused must be true or false", field="paused")
    return TargetChanges(
        labels=_labels(body["labels"]) if "labels" in body else None,
        warn_days=_int(body, "warn_days", 0, MAX_DAYS, default=None),
        critical_days=_int(body, "critical_days", 0, MAX_DAYS, default=None),
        check_interval_minutes=_int(
            body, "check_interval_minutes", MIN_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES, default=None
        ),
        notes=_optional_str(body, "notes", MAX_NOTES),
        clear_notes="notes" in body and body["notes"] is None,
        paused=paused,
        alert_days=_alert_days(body.get("alert_days")),
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
    if len(rows) > MAX_BULK_ROWS:
        raise InvalidRequestError(f"{len(rows)} targets in one request; the limit is {MAX_BULK_ROWS}")
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
        except InvalidRequestError as exc:
            read.append(RejectedRow(str(exc), exc.code))
    return read


def target_filter(query: Mapping[str, str], now: datetime) -> TargetFilter:
    """The filters of ``GET /targets``: status, label=key:value, expiring_within_days."""
    status = _choice(query, "status", Status)
    label = None
    if "label" in query:
        key, sep, value = query["label"].partition(":")
        if not sep or not _LABEL_KEY.fullmatch(key):
            raise InvalidRequestError("label must be key:value", field="label")
        label = (key, value)
    expiring_before = None
    if "expiring_within_days" in query:
        days = _int(_numbers(query, {"expiring_within_days"}), "expiring_within_days", 0, MAX_DAYS * 10, default=0)
        expiring_before = now + timedelta(days=days)
    return TargetFilter(status=status, label=label, expiring_before=expiring_before)


def page_limit(query: Mapping[str, str]) -> int:
    return int(_int(_numbers(query, {"limit"}), "limit", 1, MAX_LIMIT, default=DEFAULT_LIMIT))


def refuse_unknown_params(query: Mapping[str, str], allowed: set[str]) -> None:
    _refuse_unknown(query, allowed, what="query parameter")


def _endpoint(body: Mapping[str, Any], sni: str | None) -> Endpoint:
    if sni is not None:
        try:
            normalize_hostname(sni, what="sni")
        except InvalidTargetError as exc:
            raise InvalidRequestError(str(exc), field="sni") from exc
    protocol = body.get("protocol", "https")
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
        port = _int(body, "port", 1, 65535, default=None)
        return endpoint_from_parts(host, port, protocol, sni)
    except InvalidTargetError as exc:
        raise InvalidRequestError(str(exc), field="target" if has_target else "host") from exc


def _labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidRequestError("labels must be an object of strings", field="labels")
    if len(value) > MAX_LABELS:
        raise InvalidRequestError(f"at most {MAX_LABELS} labels", field="labels")
    for key, text in value.items():
        if not _LABEL_KEY.fullmatch(key):
            raise InvalidRequestError(f"label key {key!r}: use 1-64 of A-Z a-z 0-9 _ . - /", field="labels")
        if not isinstance(text, str) or len(text) > MAX_LABEL_VALUE:
            raise InvalidRequestError(
                f"label {key!r} must be a string of at most {MAX_LABEL_VALUE} characters", field="labels"
            )
    return dict(value)


def _alert_days(value: object) -> tuple[int, ...] | None:
    """A target's own alert thresholds: a list of 1-10 distinct day counts."""
    if value is None:
        return None
    days = [_whole(d) for d in value] if isinstance(value, list) else []
    if not 1 <= len(days) <= 10 or not all(d is not None and 0 < d <= MAX_DAYS for d in days):
        raise InvalidRequestError(
            f"alert_days must be a list of 1-10 whole numbers of days (1-{MAX_DAYS})", field="alert_days"
        )
    return tuple(sorted({d for d in days if d is not None}, reverse=True))


def _ca_bundle(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CA_BUNDLE:
        raise InvalidRequestError(f"ca_bundle must be PEM text of at most {MAX_CA_BUNDLE} bytes", field="ca_bundle")
    try:
        parse_pem_bundle(value.encode(), source="ca_bundle")
    except TrustStoreError as exc:
        raise InvalidRequestError(str(exc), field="ca_bundle") from exc
    return value


def _int(body: Mapping[str, Any], name: str, low: int, high: int, *, default: int | None) -> Any:
    if name not in body or body[name] is None:
        return default
    value = _whole(body[name])
    if value is None:
        raise InvalidRequestError(f"{name} must be a whole number", field=name)
    if not low <= value <= high:
        raise InvalidRequestError(f"{name} must be between {low} and {high}", field=name)
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


def _optional_str(body: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequestError(f"{name} must be a string of at most {limit} characters", field=name)
    return value


def _object(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequestError(f"{what} must be a JSON object")
    return data


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
    unknown = [name for name in header if name.strip() not in _SPEC_FIELDS]
    if not header or unknown:
        raise InvalidRequestError(
            f"CSV header must name columns among {', '.join(sorted(_SPEC_FIELDS))}"
            + (f"; unknown column {unknown[0]!r}" if unknown else ""),
            code="malformed_csv",
        )
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
            if key == "labels":
                row[key] = _csv_labels(cell)
            elif key == "alert_days":
                row[key] = [int(d) if _WHOLE.fullmatch(d.strip()) else d for d in cell.split(";") if d.strip()]
            else:
                row[key] = cell.strip()
        rows.append(_numbers(row, _INT_FIELDS))  # kept even when empty, so row numbers match the upload
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
    source = _choice(query, "source", Source)
    listing = target_filter({k: v for k, v in query.items() if k in ("status", "expiring_within_days")}, now)
    issuer = query.get("issuer")
    return InventoryQuery(source=source, status=listing.status, expiring_before=listing.expiring_before, issuer=issuer)


def discover_request(raw: bytes | None) -> bool:
    """``POST /discover``: an empty body proposes; ``{"register": true}`` registers."""
    if not raw or not raw.strip():
        return False
    body = _object(json_document(raw), "the request body")
    _refuse_unknown(body, {"register"})
    register = body.get("register", False)
    if not isinstance(register, bool):
        raise InvalidRequestError("register must be true or false", field="register")
    return register


def _choice[E: enum.Enum](query: Mapping[str, str], name: str, kind: type[E]) -> E | None:
    """The enum member a query parameter names, None when absent; 400 listing the choices otherwise."""
    if name not in query:
        return None
    try:
        return kind(query[name])
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise InvalidRequestError(f"{name} must be one of {allowed}", field=name) from None
