"""A client's mistake is a 4xx in the API's error shape, never a 500 or a 503 (issue 10's reproductions).

Through ``chalice.test.Client``; the answers whose shape depends on the HTTP server (Chalice's
local server standing in for API Gateway) are in test_api_local_http.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from chalice.test import Client

from chalicelib import deps
from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.adapters.sqs import SqsCheckQueue
from chalicelib.checks.resolver import SystemResolver
from chalicelib.deps import Container
from chalicelib.domain.schedule import FIRST_GRACE
from chalicelib.domain.tokens import issue
from chalicelib.settings import Settings
from lab.certs import make_cert
from tests.support.api import LOOPBACK, Api, HookedTlsServer, Reply, Stack, Stacks, client_transport
from tests.support.fakes import InMemoryStore, RecordingCheckQueue, RecordingPublisher
from tests.support.net import closed_port, no_dns
from tests.support.pki import Pki

# Text that only says how the code failed, never what is wrong with the request.
INTERNALS = ("sys.set_int_max_str_digits", "cryptography.io", "ParseError", "Tag {", "codec", "Traceback", "Errno")
NESTED = b"[" * 100_000 + b"]" * 100_000  # 200 KB: well under the 1 MiB body limit


@pytest.fixture
def stack(stacks: Stacks) -> Stack:
    return stacks.build()


@pytest.fixture
def api(client: Client, stack: Stack) -> Api:
    """Team alpha's client; ``as_admin()`` is an admin of team ops."""
    return Api(client_transport(client), stack.token("alpha"), stack.token("ops", admin=True))


def assert_refused(reply: Reply, status: int, code: str, field: str | None = None) -> None:
    assert (reply.status, reply.error["code"]) == (status, code), reply
    assert reply.error.get("field") == field, reply
    assert not any(text in reply.error["message"] for text in INTERNALS), reply


# --- a check that races a DELETE ------------------------------------------------------------------


def test_a_check_that_races_a_delete_is_404_and_stores_nothing(client: Client, stacks: Stacks, pki: Pki) -> None:
    name = "race.api.example.test"
    stack = stacks.build(allow_cidrs=LOOPBACK, pins={name: ["127.0.0.1"]})
    api = Api(client_transport(client), stack.token("alpha"))
    created: dict[str, Any] = {}

    def delete_while_checking() -> None:  # the DELETE lands while the check is on the wire
        if not created.pop("deleted", True):
            stack.store.delete_target("alpha", created["id"])

    with HookedTlsServer([make_cert(name, issuer=pki.intermediate), pki.intermediate], delete_while_checking) as tls:
        created.update(api.register(f"https://{name}:{tls.port}"), deleted=False)
        reply = api.post(f"/targets/{created['id']}/check")
        connections = tls.connections

    assert connections >= 1
    assert_refused(reply, 404, "not_found")
    assert stack.store.get_result("alpha", created["id"]) is None
    assert api.get("/targets").body["items"] == []


# --- bodies no field could ever hold --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/targets"), ("POST", "/targets/bulk"), ("PATCH", "/targets/{id}"), ("POST", "/discover")],
)
@pytest.mark.parametrize("raw", [NESTED, b'{"a":' * 100_000 + b"1" + b"}" * 100_000], ids=["arrays", "objects"])
def test_deeply_nested_json_is_400(api: Api, stack: Stack, method: str, path: str, raw: bytes) -> None:
    created = api.register("https://nested.example.com")
    caller = api.as_admin() if path == "/discover" else api

    reply = caller.call(method, path.replace("{id}", created["id"]), raw=raw)

    assert_refused(reply, 400, "malformed_json")
    assert len(stack.queue.sent) == 1


def test_json_nested_as_deep_as_the_parser_goes_is_still_a_400_naming_the_field(api: Api) -> None:
    deep = "[" * 900 + "]" * 900
    raw = '{"target": "https://deep.example.com", "labels": {"env": ' + deep + "}}"

    reply = api.post("/targets", raw=raw)

    assert_refused(reply, 400, "invalid_field", "labels")


def test_a_csv_cell_longer_than_the_csv_field_limit_is_400_naming_its_line(api: Api, stack: Stack) -> None:
    text = "target,notes\nhttps://short.example.com,fine\nhttps://long.example.com," + "n" * 131_073 + "\n"

    reply = api.post("/targets/bulk", raw=text, content_type="text/csv")

    assert_refused(reply, 400, "malformed_csv")
    assert "line 3" in reply.error["message"]
    assert stack.queue.sent == []


def test_a_bare_carriage_return_in_a_csv_ends_a_line(api: Api) -> None:
    reply = api.post("/targets/bulk", raw="target\rhttps://cr.example.com\r", content_type="text/csv")

    assert reply.status == 200, reply
    assert [r["outcome"] for r in reply.body["results"]] == ["created"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ca_bundle": "-----BEGIN CERTIFICATE-----\n\udc00\n-----END CERTIFICATE-----\n"}, "ca_bundle"),
        ({"notes": "before \udc00 after"}, "notes"),
        ({"labels": {"env": "\udc00"}}, "labels"),
        ({"labels": {"\ud800": "prod"}}, "labels"),
        ({"sni": "a\udc00.example.com"}, "sni"),
    ],
)
def test_a_lone_surrogate_in_a_text_field_is_400_invalid_field(
    api: Api, stack: Stack, fields: dict[str, Any], field: str
) -> None:
    created = api.register("https://surrogate.example.com")
    changes = {name: value for name, value in fields.items() if name in {"notes", "labels"}}

    registered = api.post("/targets", {"target": "https://other.example.com", **fields})
    changed = api.patch(f"/targets/{created['id']}", changes) if changes else None
    bulk = api.post("/targets/bulk", [{"target": "https://bulk.example.com", **fields}])

    assert_refused(registered, 400, "invalid_field", field)
    if changed is not None:
        assert_refused(changed, 400, "invalid_field", field)
    assert_refused(bulk, 400, "invalid_field", field)
    assert [t["id"] for t in api.get("/targets").body["items"]] == [created["id"]]
    assert api.get(f"/targets/{created['id']}").body == {**created, "result": None}


def test_a_surrogate_pair_is_ordinary_text(api: Api) -> None:
    reply = api.post("/targets", raw=b'{"target": "https://pair.example.com", "notes": "\\ud83d\\udd12 locked"}')

    assert reply.status == 201, reply
    assert reply.body["notes"] == "\U0001f512 locked"


# --- names: the whole string must match, a trailing newline included -------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"host": "a\n.test"}, "host"),
        ({"target": "https://a\n.test"}, "target"),
        ({"target": "https://a.test", "sni": "x\n.localhost"}, "sni"),
        ({"host": "a.test", "sni": "x\n.localhost"}, "sni"),
        ({"target": "https://a.test", "labels": {"k\n": "v"}}, "labels"),
    ],
)
def test_a_newline_inside_a_name_is_400(api: Api, stack: Stack, fields: dict[str, Any], field: str) -> None:
    reply = api.post("/targets", fields)

    assert_refused(reply, 400, "invalid_field", field)
    assert stack.queue.sent == []


def test_an_admin_cannot_create_a_team_whose_name_ends_in_a_newline(api: Api, stack: Stack) -> None:
    admin = api.as_admin()

    created = admin.post("/targets?team=teamb%0A", {"target": "https://a.example.com"})
    listed = admin.get("/targets?team=teamb%0A")

    assert_refused(created, 400, "invalid_field", "team")
    assert_refused(listed, 400, "invalid_field", "team")
    assert stack.queue.sent == []


def test_a_label_filter_whose_key_ends_in_a_newline_is_400(api: Api) -> None:
    assert_refused(api.get("/targets?label=k%0A:v"), 400, "invalid_field", "label")


# --- messages say what is wrong with the field ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"target": "https://a.example.com", "ca_bundle": "not a certificate"}, "ca_bundle"),
        (
            {
                "target": "https://a.example.com",
                "ca_bundle": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            },
            "ca_bundle",
        ),
        ({"target": "https://a.example.com", "ca_bundle": "-----BEGIN CERTIFICATE-----\nAAAA\n"}, "ca_bundle"),
        ({"target": "https://" + "a" * 70 + ".example.com"}, "target"),
        ({"host": "a..example.com"}, "host"),
        ({"target": "https://a.example.com:" + "1" * 5000}, "target"),
        ({"target": "https://a.example.com:\u00b2"}, "target"),  # "²".isdigit() is true; int("²") is not
        ({"target": "https://a.example.com:\uff18\uff14\uff14\uff13"}, "target"),  # full-width 8443
    ],
)
def test_a_refusal_names_the_field_and_what_is_wrong_with_it(api: Api, fields: dict[str, Any], field: str) -> None:
    reply = api.post("/targets", fields)

    assert_refused(reply, 400, "invalid_field", field)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"target": "https:/127.0.0.1"},
            "target",
            "cannot read target 'https:/127.0.0.1': a scheme takes two slashes, as in https://127.0.0.1",
        ),
        ({"target": "https:///127.0.0.1"}, "target", "as in https://127.0.0.1"),
        ({"target": "https:127.0.0.1"}, "target", "as in https://127.0.0.1"),
        ({"target": "https://a\u200db.example"}, "target", "Joiner U+200D not allowed"),
        ({"target": "https://\U0001f600.example"}, "target", "label '\U0001f600' is not allowed by IDNA 2008"),
        ({"target": "https://xn--zz.example"}, "target", "'xn--zz' is no valid A-label"),
        ({"host": "\U0001f600.example", "port": 443}, "host", "IDNA 2008"),
        ({"target": "https://[2001:db8::1]", "sni": "a\u200cb.example"}, "sni", "Joiner U+200C not allowed"),
    ],
)
def test_a_malformed_url_or_a_name_idna_2008_refuses_is_400_saying_why(
    api: Api, stack: Stack, fields: dict[str, Any], field: str, message: str
) -> None:
    reply = api.post("/targets", fields)

    assert_refused(reply, 400, "invalid_field", field)
    assert message in reply.error["message"], reply
    assert stack.queue.sent == []


def test_what_is_wrong_with_a_ca_bundle_is_said_plainly(api: Api) -> None:
    garbage = api.post("/targets", {"target": "https://a.example.com", "ca_bundle": "not a certificate"})
    bad_der = api.post(
        "/targets",
        {
            "target": "https://a.example.com",
            "ca_bundle": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        },
    )

    assert "no PEM certificate" in garbage.error["message"]
    assert "not a valid X.509 certificate" in bad_der.error["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"target": "https://a.example.com", "warn_days": ' + b"1" * 5000 + b"}",
        b'{"target": "https://a.example.com", "warn_days": NaN}',
        b'{"target": "https://a.example.com", "warn_days": -Infinity}',
        b'{"target": "https://a.example.com",}',
    ],
    ids=["5000-digits", "nan", "infinity", "trailing-comma"],
)
def test_json_that_no_field_could_hold_is_400_without_parser_internals(api: Api, raw: bytes) -> None:
    reply = api.post("/targets", raw=raw)

    assert reply.status == 400, reply
    assert reply.error["code"] in {"malformed_json", "invalid_field"}
    assert not any(text in reply.error["message"] for text in INTERNALS), reply


# --- the HTTP layer's own refusals in the API's shape --------------------------------------------------


def test_an_unsupported_content_type_is_415_in_the_error_shape(api: Api, stack: Stack) -> None:
    reply = api.post("/targets", {"target": "https://typed.example.com"}, content_type="text/plain")

    assert_refused(reply, 415, "unsupported_media_type")
    assert "application/json" in reply.error["message"]
    assert stack.queue.sent == []


def test_a_method_the_path_lacks_is_405_in_the_error_shape(api: Api) -> None:
    reply = api.call("PUT", "/targets", {"target": "https://put.example.com"})

    assert_refused(reply, 405, "method_not_allowed")
    assert set(reply.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


# --- AWS out of reach: 503 for a genuine outage, never a bare 500 -------------------------------------


@pytest.fixture
def dead_endpoint() -> Iterator[str]:
    with closed_port() as port:
        yield f"http://127.0.0.1:{port}"


# Real boto3 clients whose endpoint refuses connections (botocore's EndpointConnectionError) try once.
ONCE = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=2)


@pytest.fixture
def install(pki: Pki) -> Iterator[Any]:
    built: list[Container] = []

    def install(**pieces: Any) -> Container:
        container = Container(
            Settings.for_stage("local"),
            trust=pki.trust,
            resolver=SystemResolver({}, lookup=no_dns),
            publisher=RecordingPublisher(),
            certificate_sources=(),
            **pieces,
        )
        built.append(container)
        deps.use(container)
        return container

    yield install
    deps.use(None)
    for container in built:
        container.resolver.close()


def test_an_unreachable_data_store_is_503_unavailable(client: Client, install: Any, dead_endpoint: str) -> None:
    install(
        store=DynamoStore(
            boto3.client("dynamodb", endpoint_url=dead_endpoint, region_name="eu-west-1", config=ONCE),
            "certwatch-local",
        ),
        queue=RecordingCheckQueue(),
    )
    token, _ = issue("alpha", admin=False, now=datetime.now(UTC))  # never stored: the store is out of reach
    api = Api(client_transport(client), token)

    replies = [api.get("/targets"), api.post("/targets", {"target": "https://a.example.com"})]

    for reply in replies:
        assert (reply.status, reply.error["code"]) == (503, "unavailable"), reply
        assert dead_endpoint not in reply.error["message"]


def test_an_unreachable_check_queue_leaves_the_first_check_to_the_sweep(
    client: Client, install: Any, dead_endpoint: str
) -> None:
    store = InMemoryStore()
    install(
        store=store,
        queue=SqsCheckQueue(
            boto3.client("sqs", endpoint_url=dead_endpoint, region_name="eu-west-1", config=ONCE),
            f"{dead_endpoint}/1/queue",
        ),
    )
    token, record = issue("alpha", admin=False, now=datetime.now(UTC))
    store.put_token(record)

    reply = Api(client_transport(client), token).post("/targets", {"target": "https://queued.example.com"})

    assert reply.status == 201, reply
    # Registered all the same; the sweep picks it up once the first check's grace has passed.
    created = datetime.fromisoformat(reply.body["created_at"])
    # Its slot's first moment: FIRST_GRACE after it was created, to the second (the document says whole seconds).
    first = datetime.fromisoformat(reply.body["next_check_at"])
    assert timedelta(0) <= first - (created + FIRST_GRACE) <= timedelta(seconds=1)


def test_csv_numbers_are_ascii_digits_and_any_other_is_that_rows_refusal(api: Api, stack: Stack) -> None:
    text = (
        "target,alert_days,warn_days\n"
        "https://superscript.example.com,\u00b2,\n"
        "https://full-width.example.com,,\uff11\uff10\n"
        "https://long.example.com," + "1" * 5000 + ",\n"
        "https://fine.example.com,14;7,21\n"
    )

    reply = api.post("/targets/bulk", raw=text, content_type="text/csv")

    assert reply.status == 200, reply
    outcomes = [(r["outcome"], r.get("error", {}).get("code")) for r in reply.body["results"]]
    assert outcomes == [("rejected", "invalid_field")] * 3 + [("created", None)]
    messages = [r["error"]["message"] for r in reply.body["results"][:3]]
    assert [m.split(" ")[0] for m in messages] == ["alert_days", "warn_days", "alert_days"]
    assert reply.body["results"][3]["target"]["alert_days"] == [14, 7]


def test_a_whole_number_written_with_a_zero_fraction_is_that_number(api: Api) -> None:
    """JSON Schema (and so the OpenAPI document) counts 30.0 as an integer: so does the API."""
    reply = api.post(
        "/targets", raw=b'{"target": "https://float.example.com", "warn_days": 30.0, "alert_days": [7.0, 3]}'
    )

    assert reply.status == 201, reply
    assert (reply.body["warn_days"], reply.body["alert_days"]) == (30, [7, 3])
    assert type(reply.body["warn_days"]) is int


@pytest.mark.parametrize(("method", "path"), [("POST", "/discover"), ("GET", "/targets"), ("GET", "/certificates")])
def test_a_team_parameter_that_is_no_team_name_is_400_wherever_it_is_given(api: Api, method: str, path: str) -> None:
    body = {"register": False} if path == "/discover" else None

    for caller in (api, api.as_admin()):
        assert_refused(caller.call(method, f"{path}?team=", body), 400, "invalid_field", "team")


@pytest.mark.parametrize("target_id", ["x" * 1100, "tg_000000000000DEADBEEF", "tg_0%0A", "%ED%B0%80"])
def test_an_id_certwatch_never_makes_is_404_without_asking_the_store(api: Api, target_id: str) -> None:
    """DynamoDB refuses a key over 1 KB with a ValidationException of its own: it must not read as an outage."""
    for method in ("GET", "PATCH", "DELETE", "POST"):
        path = f"/targets/{target_id}" + ("/check" if method == "POST" else "")
        reply = api.call(method, path, {"notes": "x"} if method == "PATCH" else None)
        assert_refused(reply, 404, "not_found")
        assert "tg_ and 20 hex digits" in reply.error["message"]


# --- a token pasted where it does not belong ------------------------------------------------------

TOKEN_SHAPED = re.compile(r"cw_[0-9a-f]{12}_[A-Za-z0-9_-]+")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "POST"])
def test_a_token_in_a_path_is_never_echoed_and_the_404_says_to_revoke_it(api: Api, stack: Stack, method: str) -> None:
    """A token that went into a URL may sit in proxy and server logs now: the answer says to revoke it."""
    token = api.token
    assert token is not None
    path = f"/targets/{token}" + ("/check" if method == "POST" else "")

    reply = api.call(method, path, {"notes": "x"} if method == "PATCH" else None)

    assert_refused(reply, 404, "not_found")
    assert not TOKEN_SHAPED.search(json.dumps(reply.body)), reply
    message = reply.error["message"]
    assert "looks like an API token" in message, message
    assert f"certwatch token revoke {stack.tokens[token]}" in message, message


@pytest.mark.parametrize(
    ("method", "where", "body"),
    [
        ("GET", "/targets?{token}=1", None),
        ("GET", "/targets?team={token}", None),
        ("POST", "/targets", {"target": "https://{token}:99999"}),
        ("POST", "/targets", {"{token}": 1, "target": "https://t.example.com"}),
        ("POST", "/targets", {"target": "https://t.example.com", "labels": {"{token} ": "x"}}),
        ("POST", "/targets/bulk", [{"target": "https://{token}:99999"}]),
    ],
)
def test_no_refusal_repeats_a_token_given_where_some_input_belongs(
    api: Api, method: str, where: str, body: object
) -> None:
    token = api.token
    assert token is not None
    sent = json.loads(json.dumps(body).replace("{token}", token)) if body is not None else None

    reply = api.call(method, where.replace("{token}", token), sent)

    assert reply.status == (200 if where == "/targets/bulk" else 400), reply
    assert "error" in (reply.body["results"][0] if where == "/targets/bulk" else reply.body), reply
    assert not TOKEN_SHAPED.search(json.dumps(reply.body)), reply


def test_a_csv_header_naming_a_token_is_refused_without_repeating_it(api: Api) -> None:
    token = api.token
    assert token is not None

    reply = api.post("/targets/bulk", raw=f"target,{token}\nhttps://t.example.com,1\n", content_type="text/csv")

    assert_refused(reply, 400, "malformed_csv")
    assert not TOKEN_SHAPED.search(json.dumps(reply.body)), reply


@pytest.mark.parametrize(
    ("method", "where", "body", "field"),
    [
        ("POST", "/targets", {"target": "https://{token}.example.com"}, "target"),
        ("POST", "/targets", {"host": "{token}.example.com"}, "host"),
        ("POST", "/targets", {"target": "https://t.example.com", "labels": {"{token}": "x"}}, "labels"),
        ("POST", "/targets", {"target": "https://t.example.com", "labels": {"env": "{token}"}}, "labels"),
        ("POST", "/targets", {"target": "https://t.example.com", "notes": "our token is {token}"}, "notes"),
        ("PATCH", "/targets/{id}", {"notes": "{token}"}, "notes"),
        ("POST", "/targets", {"target": "https://t.example.com", "owner": "{token}"}, "owner"),
        ("PATCH", "/targets/{id}", {"owner": "web ({token})"}, "owner"),
        (
            "POST",
            "/targets",
            {"target": "https://t.example.com", "runbook_url": "https://w.example/?t={token}"},
            "runbook_url",
        ),
        ("PATCH", "/targets/{id}", {"runbook_url": "https://w.example/{token}"}, "runbook_url"),
    ],
)
def test_a_token_given_as_a_targets_data_is_refused_not_stored(
    api: Api, method: str, where: str, body: dict[str, Any], field: str
) -> None:
    """Stored, a token would be shown in every listing of the team (and lower-cased, it would still leak its id)."""
    token = api.token
    assert token is not None
    existing = api.register("https://existing.example.com")
    sent = json.loads(json.dumps(body).replace("{token}", token))

    reply = api.call(method, where.replace("{id}", existing["id"]), sent)

    assert_refused(reply, 400, "invalid_field", field)
    assert "belongs in the Authorization header" in reply.error["message"]
    assert not TOKEN_SHAPED.search(json.dumps(reply.body)), reply
    assert [t["id"] for t in api.get("/targets").body["items"]] == [existing["id"]]
