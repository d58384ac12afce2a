"""Every exchange the API tests make, checked against the generated OpenAPI document.

Each way the tests call the API (the ``Api`` client of ``tests/support/api.py``; the helpers of the
pipeline, inventory, local-stack, dashboard and browser tests) passes what it sent and what came
back to ``check``:

- the answer's status is documented for its operation, and its body fits that status's schema
  (JSON, with ``date-time`` formats checked; an answer documented without content has no body);
- a request the API accepted (2xx) fits the operation: each query parameter is documented and
  its value fits, and the body fits the request schema of its media type (a body where none is
  documented fails).

A request to a path the document does not list must be answered 404, and one whose method the
path does not document 405, both in the error shape.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from app import app
from chalicelib.http.openapi import openapi_document

DOCUMENT = openapi_document(app.routes)
_FORMATS = Draft202012Validator.FORMAT_CHECKER
# Without its optional package jsonschema passes any text as a date-time: fail here instead.
assert "date-time" in _FORMATS.checkers, "pin rfc3339-validator (requirements-dev.txt): date-time is not checked"
_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


class ContractError(AssertionError):
    """An exchange the OpenAPI document does not describe."""


def check_event(document: object, where: str = "an event") -> None:
    """Fail unless ``document`` (an event as JSON data) fits the declared event document (the OpenAPI's webhooks)."""
    _fit("#/components/schemas/EventDocument", document, where, "event")


def decode(raw: bytes) -> Any:
    """An answer's body as the tests read it: the JSON value, the text when it is not JSON, None when empty
    (the bytes themselves when they are no text: a gzipped scrape of /metrics)."""
    if not raw:
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return raw
    try:
        return json.loads(text)
    except ValueError:
        return text


def check(
    method: str,
    url: str,
    status: int,
    answer: Any,
    *,
    sent: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Fail unless the document describes this exchange (``answer`` as ``decode`` reads it)."""
    path, _, query = url.partition("?")
    method = method.lower()
    where = f"{method.upper()} {url} -> {status}"
    found = _operation(path)
    if found is None:
        if status != 404:
            raise ContractError(f"{where}: no documented path matches, yet the answer is not 404")
        _fit("#/components/schemas/Error", answer, where)
        return
    template, item = found
    operation = item.get(method)
    if operation is None:
        if status != 405:
            raise ContractError(f"{where}: {template} documents no {method.upper()}, yet the answer is not 405")
        _fit("#/components/schemas/Error", answer, where)
        return
    pointer = f"#/paths/{_escape(template)}/{method}"
    _check_answer(operation, pointer, status, answer, where)
    if 200 <= status < 300:
        _check_query(operation, query, where)
        _check_body(operation, pointer, sent, _content_type(headers), where)


def _check_answer(operation: dict[str, Any], pointer: str, status: int, answer: Any, where: str) -> None:
    documented = operation["responses"].get(str(status))
    if documented is None:
        raise ContractError(f"{where}: status {status} is not documented; documented: {sorted(operation['responses'])}")
    content = documented.get("content")
    if content is None:
        if answer not in (None, ""):
            raise ContractError(f"{where}: documented without a body, answered {answer!r}")
        return
    # A JSON answer of its own media type (the CBOM's application/vnd.cyclonedx+json) is checked as JSON too.
    json_media = [media for media in content if media == "application/json" or media.endswith("+json")]
    if json_media:
        _fit(f"{pointer}/responses/{status}/content/{_escape(json_media[0])}/schema", answer, where)
    elif answer is not None and not isinstance(answer, str | bytes):  # text may be empty (a scrape of nothing)
        raise ContractError(f"{where}: documented as {sorted(content)}, answered {answer!r}")


def _check_query(operation: dict[str, Any], query: str, where: str) -> None:
    documented = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        parameter = documented.get(name)
        if parameter is None:
            raise ContractError(f"{where}: accepted the undocumented query parameter {name!r}")
        schema = parameter["schema"]
        typed: object = int(value) if schema.get("type") == "integer" and re.fullmatch(r"-?[0-9]+", value) else value
        errors = list(_validator_of(json.dumps(schema)).iter_errors(typed))
        if errors:
            raise ContractError(f"{where}: accepted query parameter {name}={value!r}: {errors[0].message}")


def _check_body(
    operation: dict[str, Any], pointer: str, sent: bytes | str | None, content_type: str, where: str
) -> None:
    raw = sent.encode() if isinstance(sent, str) else sent or b""
    documented = operation.get("requestBody")
    if documented is None:
        if raw.strip():
            raise ContractError(f"{where}: accepted a body where the operation documents none: {raw[:200]!r}")
        return
    if not raw.strip():
        if documented.get("required"):
            raise ContractError(f"{where}: accepted no body where one is required")
        return
    media = content_type or "application/json"
    if media not in documented["content"]:
        raise ContractError(f"{where}: accepted a {media} body; documented: {sorted(documented['content'])}")
    value: object = json.loads(raw) if media == "application/json" else raw.decode("utf-8-sig")
    _fit(f"{pointer}/requestBody/content/{_escape(media)}/schema", value, where, what="accepted request body")


def _fit(pointer: str, value: object, where: str, what: str = "answer") -> None:
    error = best_match(_validator(pointer).iter_errors(value))
    if error is not None:
        raise ContractError(f"{where}: the {what} does not fit {pointer}: {_describe(error)}")


def _describe(error: ValidationError) -> str:
    at = "/".join(str(part) for part in error.absolute_path) or "(the whole body)"
    return f"at {at}: {error.message[:500]}"


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    # The whole document is the root schema, so the schema's #/components/... references resolve.
    return Draft202012Validator({**DOCUMENT, "$ref": pointer}, format_checker=_FORMATS)


@functools.cache
def _validator_of(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema), format_checker=_FORMATS)


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"), template)
        for template in DOCUMENT["paths"]
    ]


def _operation(path: str) -> tuple[str, dict[str, Any]] | None:
    """The documented path a request's path names, preferring a literal path over a template."""
    matches = [template for pattern, template in _templates() if pattern.match(path)]
    if not matches:
        return None
    template = min(matches, key=lambda t: t.count("{"))
    item = {method: op for method, op in DOCUMENT["paths"][template].items() if method in _METHODS}
    return template, item


def _content_type(headers: Mapping[str, str] | None) -> str:
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")
