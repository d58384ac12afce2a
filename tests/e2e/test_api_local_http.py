"""The same API over real HTTP: `make run`'s server (Chalice's local server, lab/gateway.py), via urllib."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.http.payloads import MAX_BODY_BYTES
from lab.certs import make_cert
from tests.support.api import (
    LOOPBACK,
    LOOPBACK_PINS,
    Api,
    HookedTlsServer,
    LoopbackTls,
    Stacks,
    http_transport,
    serving_over_http,
)
from tests.support.pki import Pki


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving_over_http() as url:
        yield url


@pytest.fixture
def api(base_url: str, stacks: Stacks) -> Api:
    """Team alpha over HTTP, against a stack that may check the loopback TLS servers."""
    stack = stacks.build(allow_cidrs=LOOPBACK, pins=LOOPBACK_PINS)
    return Api(http_transport(base_url), stack.token("alpha"))


def test_health_and_openapi_are_served_without_a_token(api: Api) -> None:
    anonymous = api.as_(None)

    health = anonymous.get("/health")
    document = anonymous.get("/openapi.json")

    assert (health.status, health.body["status"]) == (200, "ok")
    assert health.headers["Content-Type"] == "application/json"
    assert document.status == 200
    assert document.body["openapi"] == "3.1.0"
    assert "/targets/{target_id}/check" in document.body["paths"]


def test_a_target_lives_through_register_list_get_patch_check_and_delete(api: Api, tls: LoopbackTls) -> None:
    created = api.post("/targets", {"target": tls.healthy_target, "labels": {"env": "lab"}})
    assert created.status == 201, created
    target_id = created.body["id"]
    path = f"/targets/{target_id}"
    assert created.headers["Location"] == path

    listed = api.get("/targets?label=env:lab")
    assert [item["id"] for item in listed.body["items"]] == [target_id]
    assert api.get(path).body == {**created.body, "result": None}

    patched = api.patch(path, {"warn_days": 60, "critical_days": 14, "notes": "over HTTP"})
    assert patched.status == 200
    assert (patched.body["warn_days"], patched.body["critical_days"], patched.body["notes"]) == (60, 14, "over HTTP")

    checked = api.post(f"{path}/check")
    assert checked.status == 200, checked
    assert checked.body["result"]["status"] == "ok"
    assert checked.body["result"]["results"][0]["address"] == "127.0.0.1"
    assert checked.body["latest"]["status"] == "ok"
    shown = api.get(path).body
    assert (shown["latest"], shown["result"]) == (checked.body["latest"], checked.body["result"])
    assert api.get("/targets?status=ok").body["items"][0]["latest"] == checked.body["latest"]

    deleted = api.delete(path)
    assert deleted.status == 204
    assert deleted.body is None
    gone = api.get(path)
    assert gone.status == 404
    assert gone.error["code"] == "not_found"
    assert api.post("/targets", {"target": tls.healthy_target}).status == 201


def test_an_expired_certificate_checks_critical_over_http(api: Api, tls: LoopbackTls) -> None:
    created = api.register(tls.expired_target)

    checked = api.post(f"/targets/{created['id']}/check")

    assert checked.status == 200
    assert checked.body["latest"]["status"] == "critical"
    assert "EXPIRED" in checked.body["latest"]["codes"]


def test_a_missing_token_is_401_in_the_error_shape(api: Api) -> None:
    reply = api.as_(None).get("/targets")

    assert (reply.status, reply.error["code"]) == (401, "unauthorized")
    assert reply.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("token", ["nonsense", "cw_000000000000_" + "A" * 43])
def test_a_bad_token_is_401_with_a_json_error_body(api: Api, token: str) -> None:
    reply = api.as_(token).get("/targets")

    assert reply.status == 401
    assert reply.error["code"] == "unauthorized"
    assert reply.headers["Content-Type"] == "application/json"


def test_errors_arrive_as_json_bodies_with_their_status(api: Api) -> None:
    existing = api.register("https://errors.example.com")

    malformed = api.post("/targets", raw=b"{not json")
    invalid = api.post("/targets", {"target": "https://a.example.com", "warn_days": True})
    unknown_param = api.get("/targets?colour=red")
    missing = api.get("/targets/tg_000000000000deadbeef")
    duplicate = api.post("/targets", {"target": "https://errors.example.com"})
    too_large = api.post("/targets", raw=b'{"target": "https://big.example.com"}' + b" " * MAX_BODY_BYTES)
    forbidden_address = api.post("/targets", {"target": "https://10.0.0.1"})
    metadata = api.post("/targets", {"target": "http://169.254.169.254:80"})
    other_team = api.get("/targets?team=beta")

    expected = [
        (malformed, 400, "malformed_json"),
        (invalid, 400, "invalid_field"),
        (unknown_param, 400, "unknown_query_parameter"),
        (missing, 404, "not_found"),
        (duplicate, 409, "duplicate_target"),
        (too_large, 413, "payload_too_large"),
        (forbidden_address, 422, "forbidden_address"),
        (other_team, 403, "forbidden"),
    ]
    for reply, status, code in expected:
        assert (reply.status, reply.error["code"]) == (status, code), reply
        assert reply.headers["Content-Type"] == "application/json"
    assert invalid.error["field"] == "warn_days"
    assert duplicate.error["existing_id"] == existing["id"]
    assert metadata.status in {400, 422}  # http:// is no TLS protocol; either way it is never registered
    assert [item["id"] for item in api.get("/targets").body["items"]] == [existing["id"]]


def test_bulk_csv_over_http(api: Api) -> None:
    existing = api.register("https://existing.example.com")
    text = (
        "target,labels,warn_days,critical_days\n"
        "https://csv-a.example.com,env=prod;tier=1,21,7\n"
        "https://existing.example.com,,,\n"
        "https://csv-b.example.com,,10,20\n"
        "https://192.168.0.10,,,\n"
        "csv-c.example.com:8443,,,\n"
    )

    reply = api.post("/targets/bulk", raw=text, content_type="text/csv; charset=utf-8")

    assert reply.status == 200, reply
    assert [r["outcome"] for r in reply.body["results"]] == ["created", "duplicate", "rejected", "rejected", "created"]
    assert (reply.body["created"], reply.body["duplicate"], reply.body["rejected"]) == (2, 1, 2)
    assert reply.body["results"][0]["target"]["labels"] == {"env": "prod", "tier": "1"}
    assert reply.body["results"][1]["existing_id"] == existing["id"]
    assert reply.body["results"][3]["error"]["code"] == "forbidden_address"
    assert len(api.get("/targets").body["items"]) == 3


def test_concurrent_requests_each_get_their_own_answer(api: Api) -> None:
    """The local server runs a thread per request: no request may see another's body or path."""
    names = [f"https://parallel-{i}.example.com" for i in range(16)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda name: api.post("/targets", {"target": name, "notes": name}), names))

    assert [r.status for r in replies] == [201] * len(names)
    assert [r.body["notes"] for r in replies] == names
    assert [r.body["target"] for r in replies] == [f"{name}:443" for name in names]
    assert len({r.body["id"] for r in replies}) == len(names)


# --- what API Gateway answers itself, as the deployment configures it ------------------------------


@pytest.mark.parametrize("path", ["/target", "/targets/abc/checks", "/"])
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_a_path_that_is_no_route_is_404_and_never_repeats_the_token(api: Api, path: str, with_token: bool) -> None:
    caller = api if with_token else api.as_(None)

    reply = caller.get(path)

    assert (reply.status, reply.error["code"]) == (404, "not_found"), reply
    assert reply.headers["Content-Type"] == "application/json"
    assert api.token is not None
    assert api.token[3:15] not in json.dumps(reply.body)
    assert "Authorization=" not in json.dumps(reply.body)


def test_the_servers_request_log_never_holds_a_token_sent_in_a_url(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server logs each request line (as a proxy would): a token pasted into the URL is cut to its id."""
    token = api.token
    assert token is not None
    secret = token.split("_", 2)[2]

    api.get(f"/targets/{token}")
    api.get(f"/targets?{token}=1")

    logged = capsys.readouterr().err
    assert f"GET /targets/cw_{token[3:15]}_<redacted>" in logged, logged
    assert f"GET /targets?cw_{token[3:15]}_<redacted>=1" in logged, logged
    assert secret not in logged


def test_a_body_without_a_json_content_type_is_415_in_the_error_shape(api: Api) -> None:
    """urllib, like ``curl -d``, sends a body with no Content-Type as application/x-www-form-urlencoded."""
    unlabelled = api.post("/targets", {"target": "https://unlabelled.example.com"}, content_type=None)
    text = api.post("/targets", {"target": "https://text.example.com"}, content_type="text/plain")

    for reply in (unlabelled, text):
        assert (reply.status, reply.error["code"]) == (415, "unsupported_media_type"), reply
        assert "Content-Type: application/json" in reply.error["message"]
    assert api.get("/targets").body["items"] == []


@pytest.mark.parametrize("method", ["PUT", "TRACE", "QUERY"])
def test_a_method_the_path_lacks_is_405_in_the_error_shape(api: Api, method: str) -> None:
    """http.server alone would answer TRACE or QUERY with a 501 HTML page."""
    known = api.call(method, "/targets", {"target": "https://put.example.com"})
    unknown = api.call(method, "/nowhere")

    assert (known.status, known.error["code"]) == (405, "method_not_allowed"), known
    assert set(known.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert (unknown.status, unknown.error["code"]) == (404, "not_found"), unknown


def test_an_unknown_route_says_where_the_routes_are_listed(api: Api) -> None:
    """Not "no such route: GET /openapi.json lists ...", which reads as if /openapi.json were missing."""
    for reply in (api.get("/nowhere"), api.as_(None).get("/nowhere"), api.call("DELETE", "/health/x")):
        assert (reply.status, reply.error["code"]) == (404, "not_found"), reply
        assert reply.error["message"] == (
            "no route matches this method and path; the API's paths and their methods are listed at GET /openapi.json"
        )


def test_a_check_racing_a_delete_over_http_is_404(base_url: str, stacks: Stacks, pki: Pki) -> None:
    """The check is held on the wire until a DELETE over HTTP has finished: no timing involved."""
    name = "race.http.example.test"
    stack = stacks.build(allow_cidrs=LOOPBACK, pins={name: ["127.0.0.1"]}, check_timeout=60)
    api = Api(http_transport(base_url), stack.token("alpha"))
    connected, deleted = threading.Event(), threading.Event()

    def hold_until_deleted() -> None:
        connected.set()
        deleted.wait(60)

    served = make_cert(name, issuer=pki.intermediate)
    with HookedTlsServer([served, pki.intermediate], hold_until_deleted) as server, ThreadPoolExecutor(1) as pool:
        created = api.register(f"https://{name}:{server.port}")
        check = pool.submit(api.post, f"/targets/{created['id']}/check")
        assert connected.wait(60), "the check never reached the endpoint"
        removed = api.delete(f"/targets/{created['id']}")
        deleted.set()
        checked = check.result(timeout=60)

    assert removed.status == 204, removed
    assert (checked.status, checked.error["code"]) == (404, "not_found"), checked
    assert api.get(f"/targets/{created['id']}").status == 404
    assert stack.store.get_result("alpha", created["id"]) is None
