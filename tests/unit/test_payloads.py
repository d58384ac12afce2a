"""Reading API input into domain objects (chalicelib/http/payloads.py), without HTTP.

Every refusal is an InvalidValueError naming the field (and a code the API answers with);
the HTTP tests (tests/e2e/test_api*.py) show the same refusals as 400 answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.inventory import RowStatus, Source
from chalicelib.domain.models import Endpoint, Protocol, Status
from chalicelib.domain.targets import DEFAULT_INTERVAL_MINUTES, RejectedRow, TargetChanges, TargetSpec
from chalicelib.errors import InvalidValueError
from chalicelib.http import payloads
from lab.certs import make_ca

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def refused(read: Any, *args: Any) -> InvalidValueError:
    with pytest.raises(InvalidValueError) as caught:
        read(*args)
    return caught.value


# --- a JSON body ------------------------------------------------------------------------------------


def test_a_json_body_is_read_with_its_numbers_and_text() -> None:
    assert payloads.json_document(b'{"target": "example.com", "warn_days": 30}') == {
        "target": "example.com",
        "warn_days": 30,
    }


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "empty"),
        (None, "empty"),
        (b'{"target": ', "not valid JSON: Expecting value (line 1, column 12)"),
        (b'{"target": "\xff"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nests arrays or objects too deeply"),
    ],
)
def test_a_body_that_is_no_json_is_malformed_json(raw: bytes | None, says: str) -> None:
    error = refused(payloads.json_document, raw)

    assert error.code == "malformed_json"
    assert says in str(error)


def test_a_number_longer_than_any_field_takes_is_refused_before_python_converts_it() -> None:
    error = refused(payloads.json_document, b'{"port": ' + b"9" * 5000 + b"}")

    assert "5000 digits" in str(error)


def test_half_a_surrogate_pair_is_no_text_and_its_field_is_named() -> None:
    error = refused(payloads.json_document, b'{"labels": {"env": "\\udc00"}}')

    assert error.field == "labels"
    assert "surrogate" in str(error)


# --- POST /targets ----------------------------------------------------------------------------------


def test_a_target_is_read_with_the_defaults_for_what_is_not_given() -> None:
    spec = payloads.target_spec({"target": "https://Example.COM:8443/path"})

    assert spec == TargetSpec(Endpoint("example.com", 8443, Protocol.HTTPS))
    assert (spec.warn_days, spec.critical_days, spec.check_interval_minutes) == (30, 7, DEFAULT_INTERVAL_MINUTES)


def test_a_target_may_be_given_in_parts_with_every_field() -> None:
    bundle = make_ca("payloads Test Root").pem.decode()
    spec = payloads.target_spec(
        {
            "host": "mail.example.com",
            "port": 465,
            "protocol": "smtps",
            "sni": "smtp.example.com",
            "labels": {"env": "prod", "team/owner": "mail"},
            "warn_days": 45.0,  # a whole number to JSON Schema too
            "critical_days": 10,
            "check_interval_minutes": 60,
            "ca_bundle": bundle,
            "notes": "the relay",
            "alert_days": [7, 30, 30, 14],
        }
    )

    assert spec.endpoint == Endpoint("mail.example.com", 465, Protocol.SMTPS, sni="smtp.example.com")
    assert spec.labels == {"env": "prod", "team/owner": "mail"}
    assert (spec.warn_days, spec.critical_days, spec.check_interval_minutes) == (45, 10, 60)
    assert (spec.ca_bundle, spec.notes) == (bundle, "the relay")
    assert spec.alert_days == (30, 14, 7)  # distinct, longest first


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ([], None, "must be a JSON object"),
        ({}, "target", "target (or host) is required"),
        ({"target": "example.com", "host": "example.com"}, "target", "not both"),
        ({"target": 443}, "target", "must be a string"),
        ({"target": "gopher://example.com"}, "target", "unsupported"),
        ({"host": "example.com", "port": True}, "port", "whole number"),
        ({"host": "example.com", "port": 70000}, "port", "between 1 and 65535"),
        ({"host": "example.com", "protocol": "gopher"}, "protocol", "protocol must be one of"),
        ({"target": "example.com", "sni": "not a name!"}, "sni", "invalid sni in 'not a name!'"),
        ({"target": "example.com", "warn_days": 10, "critical_days": 20}, "critical_days", "must not exceed"),
        ({"target": "example.com", "critical_days": 31}, "critical_days", "must not exceed warn_days"),
        ({"target": "example.com", "warn_days": 30.5}, "warn_days", "whole number"),
        ({"target": "example.com", "check_interval_minutes": 1}, "check_interval_minutes", "between 5 and"),
        ({"target": "example.com", "labels": ["env"]}, "labels", "object of strings"),
        ({"target": "example.com", "labels": {"a b": "x"}}, "labels", "label key 'a b'"),
        ({"target": "example.com", "labels": {"env": 1}}, "labels", "must be a string"),
        ({"target": "example.com", "labels": {f"k{i}": "v" for i in range(33)}}, "labels", "at most 32"),
        ({"target": "example.com", "alert_days": []}, "alert_days", "1-10 whole numbers"),
        ({"target": "example.com", "alert_days": [0]}, "alert_days", "1-10 whole numbers"),
        ({"target": "example.com", "alert_days": "30"}, "alert_days", "1-10 whole numbers"),
        ({"target": "example.com", "ca_bundle": "not PEM"}, "ca_bundle", ""),
        ({"target": "example.com", "notes": "n" * 2001}, "notes", "at most 2000"),
        ({"target": "example.com", "owner": "o" * 201}, "owner", "at most 200"),
        ({"target": "example.com", "owner": "web\r\nBcc: x"}, "owner", "one line"),
        ({"target": "example.com", "runbook_url": "file:///etc/passwd"}, "runbook_url", "http:// or https://"),
        ({"target": "example.com", "runbook_url": "https://u:p@w.example/"}, "runbook_url", "user name or password"),
        ({"target": "example.com", "colour": "red"}, "colour", "unknown field 'colour'"),
    ],
)
def test_a_target_field_that_cannot_be_used_is_named(body: object, field: str | None, says: str) -> None:
    error = refused(payloads.target_spec, body)

    assert error.field == field
    assert says in str(error)


def test_an_unknown_field_has_a_code_of_its_own_and_lists_the_allowed_ones() -> None:
    error = refused(payloads.target_spec, {"target": "example.com", "colour": "red"})

    assert error.code == "unknown_field"
    assert "allowed: alert_days, ari, ca_bundle," in str(error)


# --- PATCH /targets/{id} -----------------------------------------------------------------------------


def test_a_change_sets_only_what_the_body_names() -> None:
    assert payloads.target_changes({"warn_days": 20, "paused": True}) == TargetChanges(warn_days=20, paused=True)


def test_null_notes_clear_them_and_other_nulls_leave_fields_as_they_are() -> None:
    changes = payloads.target_changes({"notes": None, "warn_days": None})

    assert changes == TargetChanges(cleared=frozenset({"notes"}))


def test_null_owner_and_runbook_clear_them_as_null_notes_do() -> None:
    changes = payloads.target_changes({"owner": None, "runbook_url": None, "notes": "kept"})

    assert changes == TargetChanges(notes="kept", cleared=frozenset({"owner", "runbook_url"}))


def test_owner_and_runbook_are_read_as_written() -> None:
    spec = payloads.target_spec(
        {"target": "example.com", "owner": "Web On-call <web@example.com>", "runbook_url": "https://w.example/x?a=1"}
    )

    assert (spec.owner, spec.runbook_url) == ("Web On-call <web@example.com>", "https://w.example/x?a=1")


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({}, None, "nothing to change"),
        ({"paused": "yes"}, "paused", "true or false"),
        ({"target": "example.com"}, "target", "unknown field"),
        ({"critical_days": -1}, "critical_days", "between 0 and"),
    ],
)
def test_a_change_that_cannot_be_made_is_named(body: object, field: str | None, says: str) -> None:
    error = refused(payloads.target_changes, body)

    assert error.field == field
    assert says in str(error)


# --- POST /targets/bulk ------------------------------------------------------------------------------


def test_bulk_rows_are_a_json_list_or_an_object_holding_one() -> None:
    listed = payloads.bulk_rows(b'[{"target": "a.example.com"}, {"target": "b.example.com"}]', "application/json")
    held = payloads.bulk_rows(b'{"targets": [{"target": "a.example.com"}]}', "application/json")

    assert [r.endpoint.host for r in listed if isinstance(r, TargetSpec)] == ["a.example.com", "b.example.com"]
    assert [r.endpoint.host for r in held if isinstance(r, TargetSpec)] == ["a.example.com"]


def test_a_bulk_row_that_cannot_be_read_is_refused_in_its_place_and_the_others_are_read() -> None:
    rows = payloads.bulk_rows(b'[{"target": "a.example.com"}, {"target": 1}, "c.example.com"]', "application/json")

    assert isinstance(rows[0], TargetSpec)
    assert rows[1] == RejectedRow("target must be a string such as https://example.com:8443", "invalid_field")
    assert rows[2] == RejectedRow("the target must be a JSON object", "invalid_field")


def test_csv_cells_are_text_read_as_numbers_labels_and_alert_days() -> None:
    csv = (
        b"\xef\xbb\xbftarget,warn_days,labels,alert_days\r\n"  # a spreadsheet's byte order mark and line ends
        b"a.example.com,45,env=prod;tier=1,30;7\r\n"
        b"b.example.com,,,\r\n"
        b"c.example.com,x,,\r\n"
        b"d.example.com,1,2,3,4\r\n"
    )

    rows = payloads.bulk_rows(csv, "text/csv; charset=utf-8")

    first, second, third, fourth = rows
    assert isinstance(first, TargetSpec)
    assert (first.warn_days, first.labels, first.alert_days) == (45, {"env": "prod", "tier": "1"}, (30, 7))
    assert isinstance(second, TargetSpec)
    assert second.warn_days == 30  # an empty cell is the default
    assert third == RejectedRow("warn_days must be a whole number", "invalid_field")
    assert fourth == RejectedRow("the row has more cells than the header's 4 columns", "malformed_csv")


@pytest.mark.parametrize(
    ("raw", "content_type", "code", "says"),
    [
        (b"[]", "application/json", "invalid_field", "no targets"),
        (b"[{}, {}]", "application/json", "invalid_field", "no targets"),
        (b'{"target": "a.example.com"}', "application/json", "invalid_field", "send a JSON list"),
        (b"[" + b'{"target": "a.example.com"},' * 1000 + b"{}]", "application/json", "invalid_field", "1001 targets"),
        (b"target,colour\na.example.com,red\n", "text/csv", "malformed_csv", "unknown column 'colour'"),
        (b"target,target\na.example.com,b.example.com\n", "text/csv", "malformed_csv", "names column 'target' twice"),
        (b"target,warn_days, warn_days \na.example.com,1,2\n", "text/csv", "malformed_csv", "column 'warn_days' twice"),
        (b"\xff\n", "text/csv", "malformed_csv", "not UTF-8"),
    ],
)
def test_a_bulk_body_that_holds_no_rows_to_read_is_refused_whole(
    raw: bytes, content_type: str, code: str, says: str
) -> None:
    error = refused(payloads.bulk_rows, raw, content_type)

    assert error.code == code
    assert says in str(error)


# --- query strings -----------------------------------------------------------------------------------


def test_a_listing_filter_reads_status_label_and_days() -> None:
    where = payloads.target_filter({"status": "warning", "label": "env:prod", "expiring_within_days": "14"}, NOW)

    assert (where.status, where.label, where.expiring_before) == (Status.WARNING, ("env", "prod"), NOW + timedelta(14))


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"status": "bad"}, "status", "status must be one of ok, warning, critical, error"),
        ({"label": "env"}, "label", "key:value"),
        ({"expiring_within_days": "soon"}, "expiring_within_days", "whole number"),
        ({"expiring_within_days": "36501"}, "expiring_within_days", "between 0 and 36500"),
    ],
)
def test_a_filter_that_cannot_be_used_is_named(query: dict[str, str], field: str, says: str) -> None:
    error = refused(payloads.target_filter, query, NOW)

    assert error.field == field
    assert says in str(error)


@pytest.mark.parametrize(("query", "limit"), [({}, 50), ({"limit": "1"}, 1), ({"limit": " 500 "}, 500)])
def test_a_page_holds_fifty_unless_asked_for_one_to_five_hundred(query: dict[str, str], limit: int) -> None:
    assert payloads.page_limit(query) == limit


@pytest.mark.parametrize("limit", ["0", "501", "ten", "1e3"])
def test_a_page_size_out_of_bounds_is_refused(limit: str) -> None:
    assert refused(payloads.page_limit, {"limit": limit}).field == "limit"


def test_the_inventory_query_reads_source_status_days_and_issuer() -> None:
    query = payloads.inventory_query(
        {"source": "acm", "status": "critical", "expiring_within_days": "7", "issuer": "Amazon"}, NOW
    )

    assert (query.source, query.status, query.expiring_before, query.issuer) == (
        Source.ACM,
        RowStatus.CRITICAL,
        NOW + timedelta(days=7),
        "Amazon",
    )
    assert refused(payloads.inventory_query, {"source": "vault"}, NOW).field == "source"


# --- POST /discover ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "register"), [(None, False), (b"", False), (b"  ", False), (b"{}", False)])
def test_discovery_proposes_unless_asked_to_register(raw: bytes | None, register: bool) -> None:
    assert payloads.discover_request(raw) is register


def test_discovery_registers_when_asked() -> None:
    assert payloads.discover_request(b'{"register": true}') is True


@pytest.mark.parametrize(("raw", "field"), [(b'{"register": "yes"}', "register"), (b'{"team": "web"}', "team")])
def test_a_discovery_request_that_cannot_be_read_is_named(raw: bytes, field: str) -> None:
    assert refused(payloads.discover_request, raw).field == field
