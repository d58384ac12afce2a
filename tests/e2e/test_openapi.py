"""GET /openapi.json against the app it describes: routes, security, references, and the answers themselves.

Every call through ``Api`` is checked against the document (``tests/support/contract.py``); the tests
here make sure the document is valid OpenAPI, that it covers the app's routes, and that the
check itself refuses what the document does not say.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jsonschema
import openapi_spec_validator
import pytest
from chalice.test import Client

from app import app
from chalicelib import __version__
from chalicelib.domain.models import Endpoint
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.http.openapi import openapi_document
from chalicelib.presentation import documents as render
from tests.support import contract
from tests.support.api import LOOPBACK, LOOPBACK_PINS, Api, LoopbackTls, Reply, Stacks, client_transport

PUBLIC = {("/health", "get"), ("/openapi.json", "get"), ("/dashboard", "get")}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


@pytest.fixture(scope="module")
def document(client: Client) -> dict[str, Any]:
    reply = client.http.get("/openapi.json")
    assert reply.status_code == 200
    body = reply.json_body
    assert isinstance(body, dict)
    contract.check("GET", "/openapi.json", reply.status_code, body)
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def app_routes() -> set[tuple[str, str]]:
    return {(path, method.lower()) for path, methods in app.routes.items() for method in methods if method != "OPTIONS"}


def pointer(document: Any, ref: str) -> Any:
    """The value a local JSON reference (``#/a/b~1c``) points at; KeyError/IndexError when it points nowhere."""
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_the_document_is_openapi_3_1_for_this_version(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "certwatch"
    assert document["info"]["version"] == __version__


def test_the_document_passes_an_openapi_3_1_validator(document: dict[str, Any]) -> None:
    openapi_spec_validator.validate(document)


def test_the_served_document_is_the_generated_one_the_tests_check_against(document: dict[str, Any]) -> None:
    assert document == openapi_document(app.routes) == contract.DOCUMENT


def test_the_documented_operations_are_exactly_the_apps_routes(document: dict[str, Any]) -> None:
    documented = {(path, method) for path, method, _ in operations(document)}

    assert documented == app_routes()


def test_every_route_but_health_and_the_document_declares_bearer_security(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    for path, method, operation in operations(document):
        guarded = app.routes[path][method.upper()].authorizer is not None
        if (path, method) in PUBLIC:
            assert not guarded
            assert operation.get("security", document.get("security", [])) == [], (path, method)
        else:
            assert guarded, (path, method)
            assert operation.get("security", document.get("security")) == BEARER, (path, method)
            assert "401" in operation["responses"], (path, method)


def test_every_reference_resolves_inside_the_document(document: dict[str, Any]) -> None:
    found = list(refs(document))

    assert found, "the document uses no $ref at all"
    for ref in found:
        assert ref.startswith("#/"), f"{ref} points outside the document"
        try:
            target = pointer(document, ref)
        except (KeyError, IndexError, ValueError):
            pytest.fail(f"{ref} resolves to nothing")
        assert isinstance(target, dict), ref
    # And every component schema is used by something.
    used = {ref.rsplit("/", 1)[1] for ref in found if ref.startswith("#/components/schemas/")}
    assert used == set(document["components"]["schemas"])


def test_path_parameters_and_request_bodies_match_the_routes(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        route = app.routes[path][method.upper()]
        in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == set(route.view_args), (path, method)
        assert all(p["required"] for p in operation.get("parameters", []) if p["in"] == "path")
        body = operation.get("requestBody")
        if body is not None:
            assert set(body["content"]) == set(route.content_types), (path, method)


# --- the live API answers as documented ----------------------------------------------------------


@pytest.fixture
def api(client: Client, stacks: Stacks) -> Api:
    stack = stacks.build(allow_cidrs=LOOPBACK, pins=LOOPBACK_PINS)
    return Api(client_transport(client), stack.token("alpha"), stack.token("ops", admin=True))


def test_answers_of_every_documented_kind_fit_their_schemas(api: Api, tls: LoopbackTls) -> None:
    """Each call below is checked against the document as it is made (Api runs contract.check)."""
    created = api.post("/targets", {"target": tls.healthy_target, "labels": {"env": "lab"}, "notes": "n"})
    item = f"/targets/{created.body['id']}"
    calls: list[tuple[str, str, Reply]] = [  # (documented path, method, the reply) for the reader
        ("/health", "get", api.as_(None).get("/health")),
        ("/targets", "post", created),
        ("/targets", "post", api.post("/targets", {"target": tls.healthy_target})),
        ("/targets", "post", api.post("/targets", {"target": "https://10.0.0.1"})),
        ("/targets", "post", api.post("/targets", {"target": 1})),
        ("/targets", "post", api.as_("nonsense").post("/targets", {"target": "https://a.example.com"})),
        ("/targets", "post", api.post("/targets?team=beta", {"target": "https://a.example.com"})),
        ("/targets", "post", api.post("/targets", raw=b" " * (1024 * 1024 + 1))),
        ("/targets", "post", api.post("/targets", {"target": "https://a.example.com"}, content_type="text/plain")),
        ("/targets", "get", api.get("/targets")),
        ("/targets", "get", api.get("/targets?limit=0")),
        ("/targets/{target_id}", "get", api.get(item)),
        ("/targets/{target_id}/check", "post", api.post(f"{item}/check")),
        ("/targets/{target_id}", "get", api.get(item)),
        ("/targets", "get", api.get("/targets?status=ok")),
        ("/targets/{target_id}", "patch", api.patch(item, {"notes": None, "paused": True})),
        ("/targets/{target_id}", "patch", api.patch(item, {"paused": "no"})),
        (
            "/targets/bulk",
            "post",
            api.post(
                "/targets/bulk",
                [{"target": "https://bulk.example.com"}, {"target": tls.healthy_target}, {"target": "https://[::1]"}],
            ),
        ),
        ("/targets/bulk", "post", api.post("/targets/bulk", [])),
        ("/targets/{target_id}", "delete", api.delete(item)),
        ("/targets/{target_id}", "get", api.get(item)),
        ("/targets/{target_id}", "delete", api.delete(item)),
        ("/targets/{target_id}/check", "post", api.post(f"{item}/check")),
        ("/certificates", "get", api.get("/certificates")),
        ("/certificates", "get", api.get("/certificates?source=acm")),
        ("/certificates", "get", api.as_admin().get("/certificates?team=alpha&source=acm")),
        ("/discover", "post", api.as_admin().post("/discover", {"register": False})),
        ("/discover", "post", api.post("/discover", {})),
    ]

    statuses = {reply.status for _, _, reply in calls}
    assert statuses == {200, 201, 204, 400, 401, 403, 404, 409, 413, 415, 422}


def test_the_target_schemas_take_what_the_api_takes_and_refuse_what_it_refuses(
    document: dict[str, Any], api: Api
) -> None:
    """The parts of TargetInput and TargetChanges JSON Schema can say, against the API's own answers."""
    target_input = jsonschema.Draft202012Validator({**document, "$ref": "#/components/schemas/TargetInput"})
    changes = jsonschema.Draft202012Validator({**document, "$ref": "#/components/schemas/TargetChanges"})
    taken: list[dict[str, Any]] = [
        {"target": "https://taken-1.example.com"},
        {"host": "taken-2.example.com", "port": 8443, "protocol": "smtps", "sni": None},
        {"target": "taken-3.example.com", "warn_days": None, "critical_days": 7.0, "alert_days": [30, 7]},
        {"target": "taken-4.example.com", "labels": {"env.prod/x": "v" * 256}, "notes": None, "ca_bundle": None},
    ]
    refused: list[dict[str, Any]] = [
        {},
        {"labels": {}},
        {"target": "refused.example.com", "host": "refused.example.com"},
        {"target": "refused.example.com", "port": 443},
        {"target": "refused.example.com", "warn_days": 3651},
        {"target": "refused.example.com", "labels": {"bad key": "v"}},  # ("k\n" too, but Python's re reads
        # the pattern's closing $ as "before a final newline"; JSON Schema's regexes are ECMA-262's)
        {"target": "refused.example.com", "labels": None},
        {"target": "refused.example.com", "alert_days": []},
        {"target": "refused.example.com", "protocol": None},
        {"target": "refused.example.com", "colour": "red"},
    ]

    for body in taken:
        assert target_input.is_valid(body), body
        assert api.post("/targets", body).status == 201, body
    for body in refused:
        assert not target_input.is_valid(body), body
        assert api.post("/targets", body).status == 400, body
    path = f"/targets/{api.register('https://changed.example.com')['id']}"
    for body in ({"paused": None}, {"notes": None, "alert_days": None}, {"warn_days": 30.0}):
        assert changes.is_valid(body), body
        assert api.patch(path, body).status == 200, body
    for body in ({}, {"labels": None}, {"paused": "yes"}, {"target": "elsewhere.example.com"}):
        assert not changes.is_valid(body), body
        assert api.patch(path, body).status == 400, body


PROTECTED = sorted(app_routes() - PUBLIC)
_fresh = itertools.count()


def call_with_query(api: Api, path: str, method: str, query: str) -> Reply:
    """Call an operation on a fresh target with ``?query`` and a body it accepts."""
    created = api.register(f"https://query-{next(_fresh)}.example.com")
    url = path.replace("{target_id}", created["id"])
    body: object = {"post": {"target": "https://other.example.com"}, "patch": {"notes": "x"}}.get(method)
    if path.endswith("/check"):  # it takes no body
        body = None
    if path == "/discover":  # admin tokens only
        body = {"register": False}
        api = api.as_admin()
    if path.endswith("/bulk"):
        body = [body]
    if path == "/settings" and method == "patch":
        body = {"group_by_certificate": True}
    if path == "/silences" and method == "post":
        body = {"target": created["id"], "days": 1, "reason": "a query's test"}
    if path == "/maintenance" and method == "post":
        body = {"ends_at": "2099-01-01T00:00:00Z", "starts_at": "2098-12-31T00:00:00Z", "reason": "a query's test"}
    if path == "/domains" and method == "post":
        body = {"domain": f"query-{next(_fresh)}.example.com"}
    if path == "/domains/bulk":
        body = [{"domain": f"query-{next(_fresh)}.example.com"}]
    if "{domain_id}" in path:
        made = api.post("/domains", {"domain": f"query-{next(_fresh)}.example.com"})
        url = path.replace("{domain_id}", made.body["id"])
    if "{silence_id}" in path:
        made = api.post("/silences", {"target": created["id"], "days": 1, "reason": "to end"})
        url = path.replace("{silence_id}", made.body["id"])
    if "{window_id}" in path:
        made = api.post(
            "/maintenance", {"ends_at": "2099-01-01T00:00:00Z", "starts_at": "2098-12-31T00:00:00Z", "reason": "x"}
        )
        url = path.replace("{window_id}", made.body["id"])
    return api.call(method.upper(), f"{url}?{query}", body)


@pytest.mark.parametrize(("path", "method"), PROTECTED)
def test_every_documented_query_parameter_is_accepted_and_an_undocumented_one_is_400(
    document: dict[str, Any], api: Api, path: str, method: str
) -> None:
    documented = {p["name"] for p in document["paths"][path][method].get("parameters", []) if p["in"] == "query"}
    samples = {
        "team": "alpha",
        "limit": "5",
        "status": "ok",
        "label": "env:prod",
        "expiring_within_days": "3",
        "source": "endpoint",
        "issuer": "certwatch",
    }

    for name in sorted(documented - {"cursor"}):
        accepted = call_with_query(api, path, method, f"{name}={samples[name]}")
        assert accepted.status < 300, (name, accepted)
    refused = call_with_query(api, path, method, "colour=red")

    assert "team" in documented
    assert (refused.status, refused.error["code"]) == (400, "unknown_query_parameter")


def test_the_bulk_schema_takes_any_rows_but_no_upload_without_one(document: dict[str, Any], api: Api) -> None:
    where = "#/paths/~1targets~1bulk/post/requestBody/content/application~1json/schema"
    bulk = jsonschema.Draft202012Validator({**document, "$ref": where})

    taken: list[object] = [[{"target": "https://bulk-a.example.com"}, "junk"], {"targets": [{"host": "b.example.com"}]}]
    refused: list[object] = [[], [{}, {}], {"targets": []}, {"rows": [{"target": "c.example.com"}]}, "d.example.com"]

    for body in taken:
        assert bulk.is_valid(body), body
        assert api.post("/targets/bulk", body).status == 200, body
    for body in refused:
        assert not bulk.is_valid(body), body
        assert api.post("/targets/bulk", body).status == 400, body


# --- the check every API test runs refuses what the document does not say ----------------------

CREATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TARGET = render.target_to_dict(
    Target(
        id="tg_0123456789abcdef0123",
        team="alpha",
        spec=TargetSpec(endpoint=Endpoint("a.example.com", 443)),
        created_at=CREATED,
        updated_at=CREATED,
        scheduled_at=CREATED,
    )
)
ITEM = f"/targets/{TARGET['id']}"
TAKEN = b'{"target": "a.example.com"}'


def test_the_contract_check_passes_a_documented_exchange() -> None:
    contract.check("POST", "/targets?team=alpha", 201, TARGET, sent=TAKEN, headers={"Content-Type": "application/json"})
    contract.check("GET", "/targets?limit=500&label=env:prod", 200, {"items": [TARGET], "next_cursor": None})
    contract.check("DELETE", ITEM, 204, None)
    contract.check("GET", "/nowhere", 404, {"error": {"code": "not_found", "message": "no such route"}})


@pytest.mark.parametrize(
    ("method", "url", "status", "answer", "sent", "complaint"),
    [
        ("POST", "/targets", 200, TARGET, TAKEN, "status 200 is not documented"),
        ("POST", "/targets", 201, {k: v for k, v in TARGET.items() if k != "id"}, TAKEN, "'id' is a required"),
        ("POST", "/targets", 201, {**TARGET, "created_at": "yesterday"}, TAKEN, "is not a 'date-time'"),
        ("POST", "/targets", 201, {**TARGET, "warn_days": 3651}, TAKEN, "3651 is greater than the maximum"),
        ("POST", "/targets", 201, {**TARGET, "latest": {"status": "fine"}}, TAKEN, "latest"),
        ("POST", "/targets", 201, TARGET, b'{"target": "a.example.com", "colour": "red"}', "accepted request body"),
        ("POST", "/targets", 201, TARGET, b'{"target": "a.example.com", "alert_days": []}', "accepted request body"),
        ("POST", "/targets", 201, TARGET, b"", "no body where one is required"),
        ("POST", "/targets", 400, {"message": "Unauthorized"}, TAKEN, "'error' is a required"),
        ("GET", "/targets?colour=red", 200, {"items": [], "next_cursor": None}, None, "undocumented query parameter"),
        ("GET", "/targets?limit=501", 200, {"items": [], "next_cursor": None}, None, "limit='501'"),
        ("DELETE", ITEM, 204, {"deleted": True}, None, "documented without a body"),
        ("POST", f"{ITEM}/check", 200, {**TARGET, "result": None}, b"{}", "documents none"),
        ("GET", "/nowhere", 200, {}, None, "not 404"),
        ("PUT", "/targets", 200, {}, None, "not 405"),
    ],
)
def test_the_contract_check_refuses_what_the_document_does_not_say(
    method: str, url: str, status: int, answer: object, sent: bytes | None, complaint: str
) -> None:
    with pytest.raises(contract.ContractError, match=re.escape(complaint)):
        contract.check(method, url, status, answer, sent=sent, headers={"Content-Type": "application/json"})
