"""The HTTP API end to end through ``chalice.test.Client``: routes, authorizer, middleware, in-memory stack."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import socket
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.domain.targets import TargetFilter
from chalicelib.http.payloads import MAX_BODY_BYTES
from lab.certs import make_ca, make_cert
from lab.servers import TlsServer
from tests.support.api import LOOPBACK, LOOPBACK_PINS, Api, LoopbackTls, Reply, Stack, Stacks, client_transport
from tests.support.pki import UNREADABLE_ANCHORS, Pki, unreadable_anchor

MISSING_ID = "tg_000000000000deadbeef"
# Every route behind the token; ``{id}`` is filled with an existing target's id.
PROTECTED: list[tuple[str, str]] = [
    ("POST", "/targets"),
    ("POST", "/targets/bulk"),
    ("GET", "/targets"),
    ("GET", "/targets/{id}"),
    ("PATCH", "/targets/{id}"),
    ("DELETE", "/targets/{id}"),
    ("POST", "/targets/{id}/check"),
    ("GET", "/settings"),
    ("PATCH", "/settings"),
]
# A body each protected route accepts, so only the thing under test can fail.
BODIES: dict[tuple[str, str], object] = {
    ("POST", "/targets"): {"target": "https://fresh.example.com"},
    ("POST", "/targets/bulk"): [{"target": "https://fresh-bulk.example.com"}],
    ("PATCH", "/targets/{id}"): {"notes": "changed"},
    ("PATCH", "/settings"): {"group_by_certificate": True},
}


@pytest.fixture
def stack(stacks: Stacks) -> Stack:
    """Production's address policy: no CERTWATCH_ALLOW_CIDRS, names resolve to nothing."""
    return stacks.build()


@pytest.fixture
def api(client: Client, stack: Stack) -> Api:
    """Team alpha's client."""
    return Api(client_transport(client), stack.token("alpha"))


def request(api: Api, method: str, path: str, target_id: str, **kwargs: Any) -> Reply:
    """Call one of PROTECTED (``path`` may carry a query string) with its usual body."""
    body = BODIES.get((method, path.partition("?")[0]))
    return api.call(method, path.replace("{id}", target_id), body, **kwargs)


def ids(reply: Reply) -> list[str]:
    assert reply.status == 200, reply
    return [item["id"] for item in reply.body["items"]]


# --- happy paths -------------------------------------------------------------------------------


def test_health_and_openapi_need_no_token(api: Api) -> None:
    anonymous = api.as_(None)

    health = anonymous.get("/health")
    document = anonymous.get("/openapi.json")

    assert health.status == 200
    assert health.body["status"] == "ok"
    assert isinstance(health.body["version"], str)
    assert document.status == 200
    assert document.body["openapi"] == "3.1.0"


def test_register_answers_201_and_queues_the_first_check_without_running_it(api: Api, stack: Stack) -> None:
    reply = api.post("/targets", {"target": "https://www.example.com"})

    assert reply.status == 201, reply
    body = reply.body
    assert body["id"].startswith("tg_")
    assert body["team"] == "alpha"
    assert body["created_at"].endswith("Z")
    assert reply.headers["Location"] == f"/targets/{body['id']}"
    assert body["target"] == "https://www.example.com:443"
    assert (body["host"], body["port"], body["protocol"], body["sni"]) == ("www.example.com", 443, "https", None)
    assert (body["warn_days"], body["critical_days"], body["check_interval_minutes"]) == (30, 7, 360)
    assert (body["labels"], body["notes"], body["ca_bundle"], body["paused"]) == ({}, None, None, False)
    assert body["source"] == "api"
    assert body["latest"] is None  # queued, not checked
    assert stack.queue.sent == [("alpha", body["id"])]
    assert stack.store.get_result("alpha", body["id"]) is None  # registering never probes the endpoint


def test_register_from_parts_with_every_optional_field(api: Api, pki: Pki) -> None:
    bundle = pki.root.pem.decode()
    fields = {
        "host": "Mail.Example.COM",
        "port": 587,
        "protocol": "submission",
        "sni": "smtp.example.com",
        "labels": {"env": "prod", "team.owner/name": "ops"},
        "warn_days": 45,
        "critical_days": 10,
        "check_interval_minutes": 5,
        "ca_bundle": bundle,
        "notes": "the relay",
    }

    reply = api.post("/targets", fields)

    assert reply.status == 201, reply
    body = reply.body
    assert body["target"] == "submission://mail.example.com:587"
    assert (body["host"], body["port"], body["protocol"], body["sni"]) == (
        "mail.example.com",
        587,
        "submission",
        "smtp.example.com",
    )
    assert body["labels"] == {"env": "prod", "team.owner/name": "ops"}
    assert (body["warn_days"], body["critical_days"], body["check_interval_minutes"]) == (45, 10, 5)
    assert (body["ca_bundle"], body["notes"]) == (bundle, "the relay")


def test_a_duplicate_is_409_naming_the_existing_target(api: Api, stack: Stack) -> None:
    first = api.register("https://dup.example.com")

    again = api.post("/targets", {"target": "dup.example.com:443"})
    from_parts = api.post("/targets", {"host": "dup.example.com", "port": 443, "protocol": "https"})
    other_sni = api.post("/targets", {"target": "dup.example.com", "sni": "other.example.com"})

    for reply in (again, from_parts):
        assert reply.status == 409
        assert reply.error["code"] == "duplicate_target"
        assert reply.error["existing_id"] == first["id"]
    assert other_sni.status == 201  # the SNI is part of what makes a target
    assert stack.queue.sent == [("alpha", first["id"]), ("alpha", other_sni.body["id"])]


def test_every_spelling_of_one_endpoint_is_409_naming_the_first_alone_or_in_a_bulk(api: Api, stack: Stack) -> None:
    """Scheme (implicit TLS is one handshake), case, trailing dot, default port, an SNI equal to the host."""
    first = api.register("tls://spell.example.com:8443")
    web = api.register("spell.example.com")
    spellings: dict[str, list[dict[str, Any]]] = {
        first["id"]: [
            {"target": "spell.example.com:8443"},
            {"target": "https://SPELL.example.com.:8443/path"},
            {"target": "spell.example.com:8443", "sni": "spell.example.com"},
            {"host": "spell.example.com", "port": 8443, "protocol": "https"},
        ],
        web["id"]: [
            {"target": "tls://spell.example.com:443"},
            {"target": "https://spell.example.com:443"},
            {"target": "spell.example.com:443"},
        ],
    }
    for existing, bodies in spellings.items():
        for body in bodies:
            reply = api.post("/targets", body)
            assert (reply.status, reply.error.get("existing_id")) == (409, existing), (body, reply)
    assert first["target"] == "tls://spell.example.com:8443"

    bulk = api.post(
        "/targets/bulk",
        [
            *spellings[first["id"]],
            {"target": "fresh-spell.example.com:8443"},
            {"target": "tls://fresh-spell.example.com:8443"},
        ],
    )
    assert bulk.status == 200, bulk
    results = bulk.body["results"]
    assert [r["outcome"] for r in results] == ["duplicate"] * 4 + ["created", "duplicate"]
    assert {r["existing_id"] for r in results[:4]} == {first["id"]}
    assert results[5]["existing_id"] == results[4]["target"]["id"]
    assert len(stack.queue.sent) == 3


def test_get_shows_the_target_and_no_result_before_a_check(api: Api) -> None:
    created = api.register("https://get.example.com", labels={"env": "dev"})

    reply = api.get(f"/targets/{created['id']}")

    assert reply.status == 200
    assert reply.body == {**created, "result": None}


def test_list_shows_the_teams_targets_with_their_latest_summary(api: Api) -> None:
    first = api.register("https://list-1.example.com")
    second = api.register("https://list-2.example.com")

    reply = api.get("/targets")

    assert reply.status == 200
    assert sorted(ids(reply)) == sorted([first["id"], second["id"]])
    assert reply.body["next_cursor"] is None
    assert all("latest" in item and item["latest"] is None for item in reply.body["items"])


def test_patch_changes_labels_thresholds_interval_notes_and_paused(api: Api) -> None:
    created = api.register("https://patch.example.com", notes="old", labels={"a": "1"})
    path = f"/targets/{created['id']}"

    changed = api.patch(
        path,
        {
            "labels": {"env": "prod"},
            "warn_days": 60,
            "critical_days": 14,
            "check_interval_minutes": 720,
            "notes": "new",
            "paused": True,
        },
    )
    cleared = api.patch(path, {"notes": None, "paused": False})

    assert changed.status == 200, changed
    assert changed.body["labels"] == {"env": "prod"}
    assert (changed.body["warn_days"], changed.body["critical_days"]) == (60, 14)
    assert changed.body["check_interval_minutes"] == 720
    assert (changed.body["notes"], changed.body["paused"]) == ("new", True)
    assert changed.body["target"] == created["target"]
    assert changed.body["created_at"] == created["created_at"]
    assert cleared.status == 200
    assert (cleared.body["notes"], cleared.body["paused"]) == (None, False)
    assert cleared.body["labels"] == {"env": "prod"}  # untouched fields stay
    assert api.get(path).body["notes"] is None


RUNBOOK = "https://wiki.example.com/runbooks/tls?team=web#renew"


def test_a_target_carries_an_owner_and_a_runbook_set_changed_and_cleared_like_notes(api: Api) -> None:
    created = api.register("https://owned.example.com", owner="web-oncall", runbook_url=RUNBOOK, notes="n")
    path = f"/targets/{created['id']}"
    listed = api.get("/targets").body["items"]

    changed = api.patch(path, {"owner": "payments@example.com", "runbook_url": "http://10.0.0.8:8080/tls"})
    kept = api.patch(path, {"notes": "still owned"})
    cleared = api.patch(path, {"owner": None, "runbook_url": None})

    assert (created["owner"], created["runbook_url"], created["notes"]) == ("web-oncall", RUNBOOK, "n")
    assert [(t["owner"], t["runbook_url"]) for t in listed] == [("web-oncall", RUNBOOK)]
    assert changed.status == 200, changed
    assert (changed.body["owner"], changed.body["runbook_url"]) == ("payments@example.com", "http://10.0.0.8:8080/tls")
    assert (kept.body["owner"], kept.body["runbook_url"]) == ("payments@example.com", "http://10.0.0.8:8080/tls")
    assert cleared.status == 200, cleared
    assert (cleared.body["owner"], cleared.body["runbook_url"], cleared.body["notes"]) == (None, None, "still owned")
    shown = api.get(path).body
    assert (shown["owner"], shown["runbook_url"]) == (None, None)
    assert api.register("https://unowned.example.com")["owner"] is None


@pytest.mark.parametrize(
    ("runbook", "said"),
    [
        ("javascript:alert(1)", "http:// or https://"),
        ("wiki.example.com/tls", "http:// or https://"),
        ("https://ops:hunter2@wiki.example.com/tls", "without a user name or password"),
        ("https://@wiki.example.com/tls", "without a user name or password"),
        ("https:///tls", "with a host"),
        ("https://wiki.example.com:99999/", "valid host and port"),
        ("https://wiki example.com/", "without spaces"),
        ("https://wiki.example.com/\nBcc: x", "without spaces or control characters"),
        ("https://wiki..example.com/", "valid host"),
        ("https://wiki.example.com/" + "a" * 2000, "at most 2000 characters"),
        ("", "http(s) URL"),
    ],
)
def test_a_runbook_that_is_no_http_url_is_400_naming_the_field(api: Api, stack: Stack, runbook: str, said: str) -> None:
    existing = api.register("https://existing.example.com")

    created = api.post("/targets", {"target": "https://bad-runbook.example.com", "runbook_url": runbook})
    changed = api.patch(f"/targets/{existing['id']}", {"runbook_url": runbook})

    for reply in (created, changed):
        assert (reply.status, reply.error["code"], reply.error.get("field")) == (400, "invalid_field", "runbook_url")
        assert said in reply.error["message"], reply
    assert api.get(f"/targets/{existing['id']}").body["runbook_url"] is None
    assert stack.queue.sent == [("alpha", existing["id"])]


@pytest.mark.parametrize("owner", ["o" * 201, "web\noncall", "web\toncall", 42])
def test_an_owner_is_one_line_of_at_most_200_characters(api: Api, owner: object) -> None:
    reply = api.post("/targets", {"target": "https://bad-owner.example.com", "owner": owner})

    assert (reply.status, reply.error["code"], reply.error.get("field")) == (400, "invalid_field", "owner"), reply


def test_bulk_csv_takes_owner_and_runbook_columns(api: Api) -> None:
    text = (
        "target,owner,runbook_url,notes\r\n"
        f"https://csv-owned.example.com,web-oncall,{RUNBOOK},renewed by cert-manager\r\n"
        "https://csv-unowned.example.com,,,\r\n"
        "https://csv-bad-runbook.example.com,web,ftp://files.example.com/tls,\r\n"
    )

    reply = api.post("/targets/bulk", raw=text, content_type="text/csv")

    assert reply.status == 200, reply
    owned, unowned, bad = reply.body["results"]
    assert (owned["target"]["owner"], owned["target"]["runbook_url"]) == ("web-oncall", RUNBOOK)
    assert owned["target"]["notes"] == "renewed by cert-manager"
    assert (unowned["target"]["owner"], unowned["target"]["runbook_url"]) == (None, None)
    assert (bad["outcome"], bad["error"]["code"]) == ("rejected", "invalid_field")
    assert "runbook_url must be an http:// or https:// URL" in bad["error"]["message"]


def test_bulk_json_takes_owner_and_runbook_too(api: Api) -> None:
    reply = api.post(
        "/targets/bulk",
        [{"target": "https://json-owned.example.com", "owner": "web", "runbook_url": RUNBOOK}],
    )

    assert reply.status == 200, reply
    (row,) = reply.body["results"]
    assert (row["target"]["owner"], row["target"]["runbook_url"]) == ("web", RUNBOOK)


def test_asking_the_ca_is_on_by_default_and_a_target_may_switch_it_off(api: Api) -> None:
    default = api.register("https://asks.example.com")
    assert (default["revocation"], default["ari"]) == (True, True)
    quiet = api.register("https://internal-only.example.com", revocation=False, ari=False)
    assert (quiet["revocation"], quiet["ari"]) == (False, False)
    path = f"/targets/{quiet['id']}"

    changed = api.patch(path, {"ari": True})

    assert changed.status == 200, changed
    assert (changed.body["revocation"], changed.body["ari"]) == (False, True)
    refused = api.post("/targets", {"target": "https://bad-switch.example.com", "revocation": "no"})
    assert refused.status == 400
    assert refused.body["error"]["field"] == "revocation"
    assert api.patch(path, {"ari": 0}).status == 400


def test_delete_removes_the_target_and_the_endpoint_can_be_registered_again(api: Api, stack: Stack) -> None:
    created = api.register("https://delete.example.com")
    path = f"/targets/{created['id']}"

    deleted = api.delete(path)

    assert deleted.status == 204
    assert deleted.body is None
    assert api.get(path).status == 404
    assert api.delete(path).status == 404
    assert created["id"] not in ids(api.get("/targets"))
    again = api.register("https://delete.example.com")
    assert again["id"] != created["id"]
    assert stack.queue.sent[-1] == ("alpha", again["id"])


# --- authentication and teams --------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_missing_authorization_header_is_401(api: Api, method: str, path: str) -> None:
    target = api.register("https://auth.example.com")

    reply = request(api.as_(None), method, path, target["id"])

    assert reply.status == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer cw_000000000000_" + "A" * 43,
        "Token {token}",
        "Bearer {token}x",
        "Bearer {wrong_secret}",
    ],
)
def test_a_bad_token_is_401_with_a_json_error(api: Api, header: str) -> None:
    assert api.token is not None
    wrong_secret = api.token[:-1] + ("A" if api.token[-1] != "A" else "B")
    anonymous = api.as_(None)

    for method, path in PROTECTED:
        reply = request(
            anonymous,
            method,
            path,
            MISSING_ID,
            headers={"Authorization": header.format(token=api.token, wrong_secret=wrong_secret)},
        )
        assert reply.status == 401, (method, path, reply)
        assert reply.error["code"] == "unauthorized"


def test_a_revoked_token_is_refused_on_its_next_request(api: Api, stack: Stack) -> None:
    assert api.token is not None
    other = api.as_(stack.token("alpha"))
    assert api.get("/targets").status == 200

    stack.revoke(api.token)

    refused = api.get("/targets")
    assert refused.status == 401
    assert refused.error["code"] == "unauthorized"
    assert api.post("/targets", {"target": "https://revoked.example.com"}).status == 401
    assert other.get("/targets").status == 200  # the team's other token still works
    assert stack.store.list_targets("alpha", limit=10, cursor=None, where=TargetFilter()).items == ()


def test_teams_see_only_their_own_targets(api: Api, stack: Stack) -> None:
    beta = api.as_(stack.token("beta"))
    mine = api.register("https://shared.example.com", notes="alpha's")
    theirs = beta.register("https://shared.example.com", notes="beta's")  # same endpoint: fine in another team
    path = f"/targets/{mine['id']}"

    as_beta = {
        "get": beta.get(path),
        "patch": beta.patch(path, {"notes": "beta was here"}),
        "delete": beta.delete(path),
        "check": beta.post(f"{path}/check"),
    }

    assert theirs["id"] != mine["id"]
    assert ids(api.get("/targets")) == [mine["id"]]
    assert ids(beta.get("/targets")) == [theirs["id"]]
    untouched = api.get(path)
    assert untouched.status == 200
    assert untouched.body["notes"] == "alpha's"
    assert (untouched.body["latest"], untouched.body["result"]) == (None, None)  # beta's check never ran
    assert api.delete(path).status == 204
    # Now the id is truly missing for alpha too: beta saw exactly what a missing target looks like.
    truly_missing = {
        "get": api.get(path),
        "patch": api.patch(path, {"notes": "beta was here"}),
        "delete": api.delete(path),
        "check": api.post(f"{path}/check"),
    }
    for action, reply in as_beta.items():
        assert reply.status == 404, (action, reply)
        assert reply.error["code"] == "not_found"
        assert reply.body == truly_missing[action].body, action
    assert beta.get(f"/targets/{theirs['id']}").body["notes"] == "beta's"


def test_an_admin_acts_on_another_team_with_the_team_parameter(api: Api, stack: Stack) -> None:
    admin = api.as_(stack.token("ops", admin=True))
    mine = api.register("https://admin.example.com")
    path = f"/targets/{mine['id']}"

    listed = admin.get("/targets?team=alpha")
    got = admin.get(f"{path}?team=alpha")
    patched = admin.patch(f"{path}?team=alpha", {"labels": {"owner": "ops"}})
    created = admin.post("/targets?team=alpha", {"target": "https://by-admin.example.com"})
    bulk = admin.post("/targets/bulk?team=alpha", [{"target": "https://bulk-by-admin.example.com"}])
    own = admin.get("/targets")
    without_team = admin.get(path)

    assert ids(listed) == [mine["id"]]
    assert got.status == 200
    assert patched.status == 200
    assert patched.body["labels"] == {"owner": "ops"}
    assert created.status == 201
    assert created.body["team"] == "alpha"
    assert bulk.status == 200
    assert bulk.body["results"][0]["target"]["team"] == "alpha"
    assert ids(own) == []  # the admin's own team has nothing
    assert without_team.status == 404
    assert ("alpha", created.body["id"]) in stack.queue.sent
    assert len(ids(api.get("/targets"))) == 3
    assert admin.delete(f"{path}?team=alpha").status == 204
    assert api.get(path).status == 404
    bad_team = admin.get("/targets?team=Not%20A%20Team")
    assert bad_team.status == 400
    assert bad_team.error["field"] == "team"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_team_token_naming_another_team_is_403(api: Api, stack: Stack, method: str, path: str) -> None:
    beta = api.as_(stack.token("beta"))
    theirs = beta.register("https://beta-only.example.com")

    reply = request(api, method, f"{path}?team=beta", theirs["id"])
    own_team = request(api, method, f"{path}?team=alpha", MISSING_ID)

    assert reply.status == 403, reply
    assert reply.error["code"] == "forbidden"
    assert own_team.status in {200, 201, 404}, own_team  # naming one's own team is allowed
    assert beta.get(f"/targets/{theirs['id']}").status == 200


# --- SSRF ----------------------------------------------------------------------------------------

FORBIDDEN: list[tuple[str, str]] = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("10.255.255.254", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456:789a::1", "private"),
    ("169.254.169.254", "link-local"),
    ("169.254.0.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("::ffff:10.0.0.1", "(IPv4 10.0.0.1): private"),
    ("::ffff:127.0.0.1", "(IPv4 127.0.0.1): loopback"),
    ("::ffff:169.254.169.254", "(IPv4 169.254.169.254): link-local"),
    ("64:ff9b::a9fe:a9fe", "(IPv4 169.254.169.254): link-local"),  # NAT64 of the metadata service
    ("2002:a00:1::", "(IPv4 10.0.0.1): private"),  # 6to4 of 10.0.0.1
    ("fec0::1", "site-local"),
    ("3fff::1", "documentation"),
    ("192.0.0.8", "IETF protocol assignment"),
    ("64:ff9b:1::a9fe:a9fe", "local-use NAT64"),
]


def literal(address: str, port: int = 443) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}"


def assert_forbidden(reply: Reply, address: str, reason: str) -> None:
    """Refused, naming the address as the user wrote it, then (IPv4 ...) where it carries one, then why."""
    assert reply.status == 422, reply
    assert reply.error["code"] == "forbidden_address"
    shown = f"{address} {reason}" if reason.startswith("(IPv4") else f"{address}: {reason}"
    assert reply.error["message"].startswith(f"refused {shown}"), reply.error["message"]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN)
def test_a_forbidden_address_literal_is_refused_with_422(api: Api, stack: Stack, address: str, reason: str) -> None:
    as_url = api.post("/targets", {"target": literal(address)})
    as_parts = api.post("/targets", {"host": address, "port": 8443})

    assert_forbidden(as_url, address, reason)
    assert_forbidden(as_parts, address, reason)
    assert ids(api.get("/targets")) == []
    assert stack.queue.sent == []


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN)
def test_a_name_resolving_to_a_forbidden_address_is_refused_with_422(
    client: Client, stacks: Stacks, address: str, reason: str
) -> None:
    stack = stacks.build(pins={"innocent.example.com": [address]})
    api = Api(client_transport(client), stack.token("alpha"))

    reply = api.post("/targets", {"target": "https://innocent.example.com"})

    assert_forbidden(reply, address, reason)
    assert stack.queue.sent == []


def test_a_name_is_refused_when_any_of_its_addresses_is_forbidden(client: Client, stacks: Stacks) -> None:
    stack = stacks.build(pins={"mixed.example.com": ["93.184.215.14", "2606:2800:21f:cb07::1", "10.1.2.3"]})
    api = Api(client_transport(client), stack.token("alpha"))

    assert_forbidden(api.post("/targets", {"target": "mixed.example.com"}), "10.1.2.3", "private")


def test_public_addresses_and_names_are_accepted(client: Client, stacks: Stacks) -> None:
    stack = stacks.build(pins={"public.example.com": ["93.184.215.14", "2606:2800:21f:cb07::1"]})
    api = Api(client_transport(client), stack.token("alpha"))

    for target in ("https://public.example.com", "https://93.184.215.14", "https://[2606:2800:21f:cb07::1]:8443"):
        assert api.post("/targets", {"target": target}).status == 201, target


@pytest.mark.parametrize(
    ("name", "address", "reason"),
    [
        ("127.1", "127.0.0.1", "loopback"),
        ("0x7f.0.0.1", "127.0.0.1", "loopback"),
        ("2130706433", "127.0.0.1", "loopback"),
        ("017700000001", "127.0.0.1", "loopback"),
        ("１２７.０.０.１", "127.0.0.1", "loopback"),  # full-width digits
        ("10.1", "10.0.0.1", "private"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254", "link-local"),
    ],
)
def test_numeric_spellings_of_forbidden_addresses_are_refused_as_those_addresses(
    client: Client, stacks: Stacks, name: str, address: str, reason: str
) -> None:
    """inet_aton's forms are the addresses the system resolver would connect to: refused as such, no lookup."""
    looked_up: list[str] = []

    def numeric_only(host: str, port: int, *args: Any) -> list[Any]:
        looked_up.append(host)
        # AI_NUMERICHOST: the system's own reading of numeric forms, and never a DNS query.
        return socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)

    stack = stacks.build(lookup=numeric_only)
    api = Api(client_transport(client), stack.token("alpha"))

    as_url = api.post("/targets", {"target": f"https://{name}"})
    as_parts = api.post("/targets", {"host": name, "port": 443})

    assert_forbidden(as_url, address, reason)
    assert_forbidden(as_parts, address, reason)
    assert looked_up == []


def test_numeric_spellings_of_an_address_are_that_target(client: Client, stacks: Stacks) -> None:
    """16843009, 1.1.257 and full-width 1.1.1.1 are 1.1.1.1: duplicates of it, stored as it."""
    stack = stacks.build()
    api = Api(client_transport(client), stack.token("alpha"))
    first = api.register("https://1.1.1.1")

    for spelling in ("16843009", "1.1.257", "0x01.1.1.1", "１.１.１.１", "１。１。１。１"):
        reply = api.post("/targets", {"target": f"https://{spelling}"})
        assert reply.status == 409, (spelling, reply)
        assert reply.error["existing_id"] == first["id"]
    created = api.post("/targets", {"target": "https://16843009:8443"})
    assert created.status == 201
    assert (created.body["host"], created.body["port"]) == ("1.1.1.1", 8443)


def test_an_internationalised_name_is_registered_as_browsers_send_it(client: Client, stacks: Stacks) -> None:
    """faß.de is xn--fa-hia.de (UTS #46 non-transitional), not fass.de (IDNA 2003): another domain."""
    stack = stacks.build(pins={"xn--fa-hia.de": ["93.184.215.14"], "fass.de": ["93.184.215.15"]})
    api = Api(client_transport(client), stack.token("alpha"))

    created = api.register("https://faß.de", sni="STRASSE.de")

    assert (created["host"], created["sni"]) == ("xn--fa-hia.de", "strasse.de")
    assert stack.store.get_target("alpha", created["id"]).spec.endpoint.host == "xn--fa-hia.de"
    again = api.post("/targets", {"target": "https://XN--FA-HIA.DE.", "sni": "strasse.de"})
    assert (again.status, again.error["existing_id"]) == (409, created["id"])
    other = api.post("/targets", {"target": "https://fass.de", "sni": "strasse.de"})
    assert (other.status, other.body["host"]) == (201, "fass.de")
    parts = api.post("/targets", {"host": "faß.de", "port": 443})
    assert (parts.status, parts.body["host"]) == (201, "xn--fa-hia.de")


def test_a_url_with_one_slash_after_its_scheme_is_400_not_the_host_https(api: Api, stack: Stack) -> None:
    reply = api.post("/targets", {"target": "https:/127.0.0.1"})

    assert reply.status == 400, reply
    assert reply.error["field"] == "target"
    assert "a scheme takes two slashes, as in https://127.0.0.1" in reply.error["message"]
    assert stack.queue.sent == []


@pytest.mark.parametrize("host", ["1.2.3.256", "1.2.3.4.5", "4294967296", "example.123"])
def test_a_host_ending_in_a_number_that_is_no_address_is_400(api: Api, host: str) -> None:
    reply = api.post("/targets", {"target": f"https://{host}"})

    assert reply.status == 400, reply
    assert reply.error["field"] == "target"
    assert "ending in a number must be an IPv4 address" in reply.error["message"]


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.8.9.10", "::1"], ids=["loopback", "loopback-range", "loopback-v6"]
)
def test_allow_cidrs_admit_loopback_and_nothing_else(client: Client, stacks: Stacks, address: str) -> None:
    stack = stacks.build(
        allow_cidrs="127.0.0.0/8,::1/128",
        pins={"local.example.test": [address], "private.example.test": ["10.0.0.1"]},
    )
    api = Api(client_transport(client), stack.token("alpha"))

    assert api.post("/targets", {"target": literal(address)}).status == 201
    assert api.post("/targets", {"target": "https://local.example.test"}).status == 201
    assert_forbidden(api.post("/targets", {"target": "https://10.0.0.1"}), "10.0.0.1", "private")
    assert_forbidden(api.post("/targets", {"target": "https://private.example.test"}), "10.0.0.1", "private")
    assert_forbidden(api.post("/targets", {"target": "https://169.254.169.254"}), "169.254.169.254", "link-local")


# --- input validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b'{"target": "https://a.example.com"', b"\xff\xfe\x00", b"{'target': 'x'}"],
    ids=["garbage", "empty", "truncated", "not-utf8", "single-quotes"],
)
def test_a_body_that_is_not_json_is_400(api: Api, raw: bytes) -> None:
    created = api.register("https://malformed.example.com")

    for method, path in (("POST", "/targets"), ("POST", "/targets/bulk"), ("PATCH", f"/targets/{created['id']}")):
        reply = api.call(method, path, raw=raw)
        assert reply.status == 400, (path, reply)
        assert reply.error["code"] == "malformed_json"


@pytest.mark.parametrize("document", [[{"target": "a.example.com"}], "a.example.com", 42, None, True])
def test_a_json_body_that_is_not_an_object_is_400(api: Api, document: object) -> None:
    created = api.register("https://not-object.example.com")

    for method, path in (("POST", "/targets"), ("PATCH", f"/targets/{created['id']}")):
        reply = api.call(method, path, raw=json.dumps(document))
        assert reply.status == 400, (path, reply)
        assert reply.error["code"] == "invalid_field"


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"target": "https://a.example.com", "colour": "red"}, "colour"),
    ({"target": "https://a.example.com", "warn_days": True}, "warn_days"),
    ({"target": "https://a.example.com", "warn_days": "30"}, "warn_days"),
    ({"target": "https://a.example.com", "warn_days": 30.5}, "warn_days"),
    ({"target": "https://a.example.com", "warn_days": -1}, "warn_days"),
    ({"target": "https://a.example.com", "critical_days": False}, "critical_days"),
    ({"host": "a.example.com", "port": "443"}, "port"),
    ({"host": "a.example.com", "port": True}, "port"),
    ({"host": "a.example.com", "port": 0}, "port"),
    ({"host": "a.example.com", "port": 65536}, "port"),
    ({"host": 7}, "host"),
    ({"target": "https://a.example.com", "warn_days": 10, "critical_days": 11}, "critical_days"),
    ({"target": "https://a.example.com", "critical_days": 31}, "critical_days"),  # over the default warn_days
    ({"target": "https://a.example.com", "check_interval_minutes": 4}, "check_interval_minutes"),
    ({"target": "https://a.example.com", "check_interval_minutes": 0}, "check_interval_minutes"),
    ({"target": "https://a.example.com", "check_interval_minutes": "60"}, "check_interval_minutes"),
    ({"target": "https://a.example.com", "labels": ["env=prod"]}, "labels"),
    ({"target": "https://a.example.com", "labels": "env=prod"}, "labels"),
    ({"target": "https://a.example.com", "labels": {"bad key": "x"}}, "labels"),
    ({"target": "https://a.example.com", "labels": {"": "x"}}, "labels"),
    ({"target": "https://a.example.com", "labels": {"env": 1}}, "labels"),
    ({"target": "https://a.example.com", "labels": {"env": "x" * 257}}, "labels"),
    ({"target": "https://a.example.com", "labels": {f"k{i}": "v" for i in range(33)}}, "labels"),
    ({"target": "https://a.example.com", "ca_bundle": "not a certificate"}, "ca_bundle"),
    (
        {
            "target": "https://a.example.com",
            "ca_bundle": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        },
        "ca_bundle",
    ),
    ({"target": "https://a.example.com", "ca_bundle": 12}, "ca_bundle"),
    ({"target": "https://a.example.com", "notes": 12}, "notes"),
    ({"target": "https://a.example.com", "notes": "n" * 2001}, "notes"),
    ({"target": 443}, "target"),
    ({"target": ""}, "target"),
    ({"target": "gopher://a.example.com"}, "target"),
    ({"target": "https://a.example.com:99999"}, "target"),
    ({"target": "https://bad_host!.example.com"}, "target"),
    ({"target": "https:/a.example.com"}, "target"),
    ({"target": "https://a\u200db.example.com"}, "target"),
    ({"target": "https://a.example.com", "host": "a.example.com"}, "target"),
    ({"labels": {"env": "prod"}}, "target"),
    ({}, "target"),
]


@pytest.mark.parametrize(("body", "field"), BAD_FIELDS, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_FIELDS)])
def test_an_invalid_field_is_400_naming_it(api: Api, stack: Stack, body: dict[str, Any], field: str) -> None:
    reply = api.post("/targets", body)

    assert reply.status == 400, reply
    assert reply.error["field"] == field
    assert reply.error["code"] == ("unknown_field" if field == "colour" else "invalid_field")
    assert stack.queue.sent == []


def test_an_unknown_field_has_its_own_code(api: Api) -> None:
    reply = api.post("/targets", {"target": "https://a.example.com", "tags": ["x"]})

    assert reply.status == 400
    assert reply.error == {"code": "unknown_field", "field": "tags", "message": reply.error["message"]}
    assert "tags" in reply.error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": "https://a.example.com", "sni": "bad name!"}, "sni"),
        ({"host": "a.example.com", "sni": "bad name!"}, "sni"),
        ({"host": "a.example.com", "protocol": "gopher"}, "protocol"),
    ],
)
def test_a_bad_sni_or_protocol_is_400_naming_that_field(api: Api, body: dict[str, Any], field: str) -> None:
    reply = api.post("/targets", body)

    assert reply.status == 400, reply
    assert reply.error["field"] == field


BAD_CHANGES: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    ({"target": "https://elsewhere.example.com"}, "target"),
    ({"team": "beta"}, "team"),
    ({"paused": "yes"}, "paused"),
    ({"paused": 1}, "paused"),
    ({"warn_days": True}, "warn_days"),
    ({"warn_days": 5}, "critical_days"),  # below the stored critical_days (7)
    ({"critical_days": 31}, "critical_days"),  # above the stored warn_days (30)
    ({"warn_days": 10, "critical_days": 20}, "critical_days"),
    ({"check_interval_minutes": 4}, "check_interval_minutes"),
    ({"labels": {"bad key": "x"}}, "labels"),
    ({"labels": None}, "labels"),
    ({"notes": ["x"]}, "notes"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CHANGES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_CHANGES)])
def test_an_invalid_change_is_400_and_changes_nothing(api: Api, body: dict[str, Any], field: str | None) -> None:
    created = api.register("https://change.example.com")
    path = f"/targets/{created['id']}"

    reply = api.patch(path, body)

    assert reply.status == 400, reply
    assert reply.error.get("field") == field
    assert api.get(path).body == {**created, "result": None}


def test_patch_of_a_missing_target_is_404_even_with_a_valid_body(api: Api) -> None:
    reply = api.patch(f"/targets/{MISSING_ID}", {"notes": "x"})

    assert reply.status == 404
    assert reply.error["code"] == "not_found"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_an_unknown_query_parameter_is_400(api: Api, stack: Stack, method: str, path: str) -> None:
    created = api.register("https://params.example.com")

    reply = request(api, method, f"{path}?colour=red", created["id"])

    assert reply.status == 400, reply
    assert reply.error["code"] == "unknown_query_parameter"
    assert reply.error["field"] == "colour"
    assert len(ids(api.get("/targets"))) == 1
    assert len(stack.queue.sent) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=-5", "limit"),
        ("status=bogus", "status"),
        ("label=env", "label"),
        ("label=bad%20key:x", "label"),
        ("expiring_within_days=-1", "expiring_within_days"),
        ("expiring_within_days=soon", "expiring_within_days"),
        ("cursor=!!!", "cursor"),
        ("cursor=WzFd", "cursor"),  # base64 of [1]: JSON, but no position
    ],
)
def test_an_invalid_list_parameter_is_400_naming_it(api: Api, query: str, field: str) -> None:
    reply = api.get(f"/targets?{query}")

    assert reply.status == 400, reply
    assert reply.error["field"] == field


def test_a_body_of_exactly_one_mib_is_accepted_and_one_byte_more_is_413(api: Api) -> None:
    def padded(document: str, size: int) -> bytes:
        raw = document.encode()
        return raw + b" " * (size - len(raw))

    created = api.register("https://size.example.com")
    path = f"/targets/{created['id']}"

    at_limit = api.post("/targets", raw=padded('{"target": "https://big.example.com"}', MAX_BODY_BYTES))
    over = {
        "register": api.post("/targets", raw=padded('{"target": "https://bigger.example.com"}', MAX_BODY_BYTES + 1)),
        "bulk": api.post("/targets/bulk", raw=padded('[{"target": "https://bigger.example.com"}]', MAX_BODY_BYTES + 1)),
        "csv": api.post(
            "/targets/bulk",
            raw=padded("target\nhttps://bigger.example.com\n", MAX_BODY_BYTES + 1),
            content_type="text/csv",
        ),
        "patch": api.patch(path, raw=padded('{"notes": "big"}', MAX_BODY_BYTES + 1)),
    }

    assert at_limit.status == 201, at_limit
    for name, reply in over.items():
        assert reply.status == 413, (name, reply)
        assert reply.error["code"] == "payload_too_large"
    assert api.get(path).body["notes"] is None
    assert len(ids(api.get("/targets"))) == 2


# --- bulk ----------------------------------------------------------------------------------------


def test_bulk_json_reports_every_row_and_a_bad_row_blocks_nothing(api: Api, stack: Stack) -> None:
    existing = api.register("https://existing.example.com")
    rows: list[object] = [
        {"target": "https://one.example.com", "labels": {"env": "prod"}},
        {"target": "https://existing.example.com"},
        {"target": "https://two.example.com", "warn_days": "soon"},
        {"target": "https://10.0.0.1"},
        "https://three.example.com",
        {"host": "four.example.com", "port": 8443, "check_interval_minutes": 15},
        {"target": "one.example.com:443"},
        {"target": "https://five.example.com", "colour": "red"},
        {"target": "https://169.254.169.254/latest/meta-data/"},
    ]

    reply = api.post("/targets/bulk", rows)

    assert reply.status == 200, reply
    results = reply.body["results"]
    assert [r["row"] for r in results] == list(range(1, len(rows) + 1))
    assert [r["outcome"] for r in results] == [
        "created",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "created",
        "duplicate",
        "rejected",
        "rejected",
    ]
    assert (reply.body["created"], reply.body["duplicate"], reply.body["rejected"]) == (2, 2, 5)
    one, four = results[0]["target"], results[5]["target"]
    assert (one["labels"], one["source"], one["team"]) == ({"env": "prod"}, "bulk", "alpha")
    assert (four["target"], four["check_interval_minutes"]) == ("https://four.example.com:8443", 15)
    assert results[1]["existing_id"] == existing["id"]
    assert results[6]["existing_id"] == one["id"]  # a duplicate within the same request
    assert results[2]["error"]["code"] == "invalid_field"
    assert "warn_days" in results[2]["error"]["message"]
    assert results[3]["error"]["code"] == "forbidden_address"
    assert results[7]["error"]["code"] == "unknown_field"
    assert results[8]["error"]["code"] == "forbidden_address"
    assert all("target" not in r for r in results if r["outcome"] != "created")
    assert stack.queue.sent == [("alpha", existing["id"]), ("alpha", one["id"]), ("alpha", four["id"])]
    assert sorted(ids(api.get("/targets"))) == sorted([existing["id"], one["id"], four["id"]])


@pytest.mark.parametrize("kind", sorted(UNREADABLE_ANCHORS))
def test_a_ca_bundle_that_does_not_read_whole_is_400_naming_it_alone_or_in_a_bulk(
    api: Api, stack: Stack, pki: Pki, kind: str
) -> None:
    bundle = (pki.root.pem + unreadable_anchor(kind)).decode()
    alone = api.post("/targets", {"target": f"https://alone-{kind}.example.com", "ca_bundle": bundle})
    assert alone.status == 400, alone
    assert (alone.error["code"], alone.error["field"]) == ("invalid_field", "ca_bundle")
    assert alone.error["message"].startswith("ca_bundle: certificate 2 of 2 cannot be used: ")
    assert UNREADABLE_ANCHORS[kind] in alone.error["message"]

    good = pki.root.pem.decode()
    rows = [
        {"target": f"https://first-{kind}.example.com", "ca_bundle": good},
        {"target": f"https://broken-{kind}.example.com", "ca_bundle": bundle},
        {"target": f"https://third-{kind}.example.com"},
    ]
    bulk = api.post("/targets/bulk", rows)
    assert bulk.status == 200, bulk
    assert [r["outcome"] for r in bulk.body["results"]] == ["created", "rejected", "created"]
    assert bulk.body["results"][1]["error"]["code"] == "invalid_field"
    assert UNREADABLE_ANCHORS[kind] in bulk.body["results"][1]["error"]["message"]

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["target", "ca_bundle"])
    writer.writerows([[f"https://csv-{row['target'][8:]}", row.get("ca_bundle", "")] for row in rows])
    upload = api.post("/targets/bulk", raw=text.getvalue(), content_type="text/csv")
    assert upload.status == 200, upload
    assert [r["outcome"] for r in upload.body["results"]] == ["created", "rejected", "created"]
    assert UNREADABLE_ANCHORS[kind] in upload.body["results"][1]["error"]["message"]
    assert len(stack.queue.sent) == 4


def test_bulk_accepts_an_object_with_a_targets_list(api: Api) -> None:
    reply = api.post("/targets/bulk", {"targets": [{"target": "https://wrapped.example.com"}]})

    assert reply.status == 200
    assert reply.body["created"] == 1


def test_bulk_csv_reads_labels_numbers_and_empty_cells(api: Api, stack: Stack) -> None:
    existing = api.register("https://existing.example.com")
    text = (
        "\ufefftarget,labels,warn_days,critical_days,check_interval_minutes,notes,sni\r\n"
        'https://csv-one.example.com,env=prod;tier=1,21,7,60,"first, with a comma",\r\n'
        "csv-two.example.com:8443,,,,,,\r\n"
        "https://existing.example.com,,,,,,\r\n"
        "https://csv-three.example.com,env,,,,,\r\n"
        "https://csv-four.example.com,,abc,,,,\r\n"
        "https://csv-five.example.com,,10,20,,,\r\n"
        "https://[fd00::1],,,,,,\r\n"
        "https://csv-six.example.com,,,,4,,\r\n"
        "smtp://csv-seven.example.com, team = a ; env=dev ,,,,,mx.example.com\r\n"
    )

    reply = api.post("/targets/bulk", raw=text, content_type="text/csv")

    assert reply.status == 200, reply
    results = reply.body["results"]
    assert [r["outcome"] for r in results] == [
        "created",
        "created",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    first, second, seventh = results[0]["target"], results[1]["target"], results[8]["target"]
    assert first["labels"] == {"env": "prod", "tier": "1"}
    assert (first["warn_days"], first["critical_days"], first["check_interval_minutes"]) == (21, 7, 60)
    assert first["notes"] == "first, with a comma"
    assert second["target"] == "tls://csv-two.example.com:8443"  # host:PORT is TLS on that port
    assert (second["labels"], second["warn_days"], second["check_interval_minutes"]) == ({}, 30, 360)
    assert seventh["labels"] == {"team": "a", "env": "dev"}
    assert (seventh["target"], seventh["sni"]) == ("smtp://csv-seven.example.com:25", "mx.example.com")
    assert results[2]["existing_id"] == existing["id"]
    assert [results[i]["error"]["code"] for i in (3, 4, 5, 6, 7)] == [
        "invalid_field",
        "invalid_field",
        "invalid_field",
        "forbidden_address",
        "invalid_field",
    ]
    assert "labels" in results[3]["error"]["message"]
    assert "warn_days" in results[4]["error"]["message"]
    assert "critical_days" in results[5]["error"]["message"]
    assert "check_interval_minutes" in results[7]["error"]["message"]
    created = [r["target"]["id"] for r in results if r["outcome"] == "created"]
    assert stack.queue.sent == [("alpha", existing["id"]), *(("alpha", i) for i in created)]


def test_bulk_csv_row_numbers_point_at_the_uploads_rows(api: Api) -> None:
    text = "target,notes\nhttps://first.example.com,a\n,\nhttps://third.example.com,c\n"

    reply = api.post("/targets/bulk", raw=text, content_type="text/csv")

    assert reply.status == 200, reply
    rows = {r["target"]["target"]: r["row"] for r in reply.body["results"] if r["outcome"] == "created"}
    assert rows == {"https://first.example.com:443": 1, "https://third.example.com:443": 3}


def test_a_csv_row_with_more_cells_than_the_header_is_rejected(api: Api) -> None:
    text = "target,notes\nhttps://ok.example.com,fine\nhttps://extra.example.com,note,21,env=prod\n"

    reply = api.post("/targets/bulk", raw=text, content_type="text/csv")

    assert reply.status == 200, reply
    assert [r["outcome"] for r in reply.body["results"]] == ["created", "rejected"]


@pytest.mark.parametrize(
    ("raw", "content_type", "code"),
    [
        ("[]", "application/json", "invalid_field"),
        ('{"target": "https://a.example.com"}', "application/json", "invalid_field"),
        ('{"targets": "https://a.example.com"}', "application/json", "invalid_field"),
        ("target,colour\nhttps://a.example.com,red\n", "text/csv", "malformed_csv"),
        ("", "text/csv", "malformed_csv"),
        ("target\n", "text/csv", "invalid_field"),
        ("target\n \n\n", "text/csv", "invalid_field"),
        (b"target\nhttps://\xff.example.com\n", "text/csv", "malformed_csv"),
    ],
    ids=["empty-list", "object", "targets-not-list", "unknown-column", "empty-csv", "header-only", "blank", "latin1"],
)
def test_a_bulk_request_that_is_not_a_list_of_rows_is_400(
    api: Api, stack: Stack, raw: str | bytes, content_type: str, code: str
) -> None:
    reply = api.post("/targets/bulk", raw=raw, content_type=content_type)

    assert reply.status == 400, reply
    assert reply.error["code"] == code
    assert stack.queue.sent == []


def test_bulk_takes_1000_rows_and_refuses_1001(api: Api, stack: Stack) -> None:
    rows = [{"target": f"https://host-{i}.example.com"} for i in range(1001)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["target"])
    writer.writerows([row["target"]] for row in rows)

    too_many = api.post("/targets/bulk", rows)
    too_many_csv = api.post("/targets/bulk", raw=out.getvalue(), content_type="text/csv")

    assert too_many.status == 400
    assert too_many_csv.status == 400
    assert "1000" in too_many.error["message"]
    assert stack.queue.sent == []
    enough = api.post("/targets/bulk", rows[:1000])
    assert enough.status == 200
    assert enough.body["created"] == 1000
    assert len(stack.queue.sent) == 1000


# --- listing -------------------------------------------------------------------------------------


def walk(api: Api, query: str) -> list[list[str]]:
    """Every page of ``GET /targets?query``, following next_cursor."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        reply = api.get(f"/targets?{query}" + (f"&cursor={cursor}" if cursor else ""))
        pages.append(ids(reply))
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return pages
        assert isinstance(cursor, str)
        assert len(pages) < 50, "the cursor never ends"


def test_pagination_walks_every_target_once_with_and_without_filters(api: Api, stack: Stack) -> None:
    rows = [
        {"target": f"https://page-{i:02}.example.com", "labels": {"tier": "gold" if i % 5 == 0 else "silver"}}
        for i in range(55)
    ]
    created = api.post("/targets/bulk", rows).body["results"]
    by_tier: dict[str, list[str]] = {"gold": [], "silver": []}
    for row in created:
        by_tier[row["target"]["labels"]["tier"]].append(row["target"]["id"])
    beta = api.as_(stack.token("beta"))
    same_in_beta = beta.post("/targets/bulk", rows[:3]).body  # other teams' endpoints are no duplicates
    assert same_in_beta["created"] == 3

    everything = walk(api, "limit=20")
    gold = walk(api, "limit=3&label=tier:gold")
    silver = walk(api, "label=tier:silver&limit=20")
    default = walk(api, "")

    assert [len(page) for page in everything] == [20, 20, 15]
    assert [len(page) for page in gold] == [3, 3, 3, 2]
    assert [len(page) for page in silver] == [20, 20, 4]
    assert [len(page) for page in default] == [50, 5]  # the default limit is 50
    for pages, expected in (
        (everything, by_tier["gold"] + by_tier["silver"]),
        (gold, by_tier["gold"]),
        (silver, by_tier["silver"]),
        (default, by_tier["gold"] + by_tier["silver"]),
    ):
        flat = [i for page in pages for i in page]
        assert len(flat) == len(set(flat))
        assert sorted(flat) == sorted(expected)
    assert walk(api, "label=tier:platinum") == [[]]
    (single,) = walk(api, "limit=500")
    assert sorted(single) == sorted(by_tier["gold"] + by_tier["silver"])


# --- checking now, against real loopback TLS servers ---------------------------------------------


@pytest.fixture
def loopback(client: Client, stacks: Stacks) -> Api:
    """A stack like `make run`'s: loopback allowed, the servers' names pinned to 127.0.0.1."""
    stack = stacks.build(allow_cidrs=LOOPBACK, pins=LOOPBACK_PINS)
    return Api(client_transport(client), stack.token("alpha"))


def test_check_now_runs_a_real_check_and_the_target_shows_it(loopback: Api, tls: LoopbackTls) -> None:
    created = loopback.register(tls.healthy_target, labels={"env": "lab"})
    path = f"/targets/{created['id']}"
    connections = tls.healthy.connections

    checked = loopback.post(f"{path}/check")

    assert checked.status == 200, checked
    result = checked.body["result"]
    assert result["status"] == "ok"
    assert result["target"] == tls.healthy_target
    assert [r["address"] for r in result["results"]] == ["127.0.0.1"]
    assert result["results"][0]["leaf"]["sans"] == ["healthy.api.example.test"]
    assert result["findings"] == []
    latest = checked.body["latest"]
    assert latest["status"] == "ok"
    assert latest["days_left"] in {88, 89, 90}
    assert latest["codes"] == []
    assert latest["not_after"] == result["not_after"]
    assert checked.body["next_check_at"] > created["next_check_at"]
    assert tls.healthy.connections > connections
    shown = loopback.get(path)
    assert shown.body["latest"] == latest
    assert shown.body["result"] == result
    (listed,) = loopback.get("/targets").body["items"]
    assert listed["latest"] == latest


def test_an_expired_certificate_checks_critical_with_expired(loopback: Api, tls: LoopbackTls) -> None:
    created = loopback.register(tls.expired_target)

    checked = loopback.post(f"/targets/{created['id']}/check")

    assert checked.status == 200, checked
    assert checked.body["result"]["status"] == "critical"
    assert checked.body["latest"]["status"] == "critical"
    assert "EXPIRED" in checked.body["latest"]["codes"]
    assert checked.body["latest"]["days_left"] < 0
    assert loopback.get(f"/targets/{created['id']}").body["latest"] == checked.body["latest"]


def test_listing_filters_by_status_and_expiry_after_checks(loopback: Api, tls: LoopbackTls) -> None:
    healthy = loopback.register(tls.healthy_target)["id"]
    expired = loopback.register(tls.expired_target)["id"]
    unchecked = loopback.register("https://unchecked.example.com")["id"]
    for target_id in (healthy, expired):
        assert loopback.post(f"/targets/{target_id}/check").status == 200

    assert ids(loopback.get("/targets?status=ok")) == [healthy]
    assert ids(loopback.get("/targets?status=critical")) == [expired]
    assert ids(loopback.get("/targets?status=warning")) == []
    assert ids(loopback.get("/targets?expiring_within_days=0")) == [expired]
    assert ids(loopback.get("/targets?expiring_within_days=30")) == [expired]
    assert sorted(ids(loopback.get("/targets?expiring_within_days=100"))) == sorted([healthy, expired])
    assert sorted(ids(loopback.get("/targets"))) == sorted([healthy, expired, unchecked])


def test_an_admin_checks_another_teams_target(client: Client, stacks: Stacks, tls: LoopbackTls) -> None:
    stack = stacks.build(allow_cidrs=LOOPBACK, pins=LOOPBACK_PINS)
    alpha = Api(client_transport(client), stack.token("alpha"))
    admin = alpha.as_(stack.token("ops", admin=True))
    created = alpha.register(tls.healthy_target)

    checked = admin.post(f"/targets/{created['id']}/check?team=alpha")

    assert checked.status == 200
    assert checked.body["latest"]["status"] == "ok"
    assert alpha.get(f"/targets/{created['id']}").body["latest"]["status"] == "ok"


def test_a_targets_own_ca_bundle_is_trusted_for_its_checks(loopback: Api, tls: LoopbackTls) -> None:
    internal_root = make_ca("Internal Team Root")
    served = make_cert("healthy.api.example.test", issuer=internal_root)
    with TlsServer([served]) as server:
        target = f"https://healthy.api.example.test:{server.port}"
        trusted = loopback.register(target, ca_bundle=internal_root.pem.decode())
        # The same server as another target (by its address, with the name as SNI), without the bundle.
        other = loopback.post(
            "/targets", {"target": f"https://127.0.0.1:{server.port}", "sni": "healthy.api.example.test"}
        ).body

        with_bundle = loopback.post(f"/targets/{trusted['id']}/check")
        without = loopback.post(f"/targets/{other['id']}/check")

    assert with_bundle.body["latest"]["status"] == "ok", with_bundle.body["result"]
    assert without.body["latest"]["status"] == "critical"
    assert {"UNTRUSTED_ROOT", "INCOMPLETE_CHAIN"} & set(without.body["latest"]["codes"])


def test_check_now_of_a_target_whose_stored_bundle_no_longer_reads_is_200_with_the_finding(
    client: Client, stacks: Stacks
) -> None:
    stack = stacks.build(allow_cidrs=LOOPBACK, pins=LOOPBACK_PINS)
    api = Api(client_transport(client), stack.token("alpha"))
    internal_root = make_ca("Internal Team Root")
    served = make_cert("healthy.api.example.test", issuer=internal_root)
    with TlsServer([served]) as server:
        created = api.register(f"https://healthy.api.example.test:{server.port}", ca_bundle=internal_root.pem.decode())
        # As a bundle accepted before bundles were read whole is stored: one anchor in it cannot be read.
        stored = stack.store.get_target("alpha", created["id"])
        broken = (unreadable_anchor("subject-not-utf8") + internal_root.pem).decode()
        spec = dataclasses.replace(stored.spec, ca_bundle=broken)
        stack.store._targets[("alpha", stored.id)] = dataclasses.replace(stored, spec=spec)

        checked = api.post(f"/targets/{created['id']}/check")

    assert checked.status == 200, checked
    assert checked.body["latest"]["codes"] == ["CA_BUNDLE_UNUSABLE"]
    assert checked.body["latest"]["days_left"] is not None, "the chain is still judged with the anchor that reads"


def test_a_name_rebound_to_loopback_after_registration_is_not_contacted(
    client: Client, stacks: Stacks, tls: LoopbackTls
) -> None:
    """DNS rebinding: public at registration, loopback at check time; the check refuses to connect."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    def rebinding(host: str, port: int, *args: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in next(answers)]

    stack = stacks.build(lookup=rebinding)
    api = Api(client_transport(client), stack.token("alpha"))
    created = api.register(f"https://rebind.example.com:{tls.healthy.port}")
    connections = tls.healthy.connections

    checked = api.post(f"/targets/{created['id']}/check")

    assert checked.status == 200
    result = checked.body["result"]
    assert result["status"] == "error"
    (finding,) = result["findings"]
    assert (finding["code"], finding.get("reason")) == ("CONNECTION_FAILED", "forbidden")
    assert tls.healthy.connections == connections


def test_delete_after_a_check_removes_the_result_and_allows_registering_again(loopback: Api, tls: LoopbackTls) -> None:
    created = loopback.register(tls.healthy_target)
    path = f"/targets/{created['id']}"
    assert loopback.post(f"{path}/check").status == 200

    assert loopback.delete(path).status == 204

    assert loopback.get(path).status == 404
    assert loopback.post(f"{path}/check").status == 404
    again = loopback.register(tls.healthy_target)
    assert loopback.get(f"/targets/{again['id']}").body["result"] is None


# --- the team's settings -----------------------------------------------------------------------------

DEFAULT_POSTURE = {
    "require_post_quantum": False,
    "quantum_safe_signatures_by": None,
    "note_classical": False,
    "legacy_tls": False,
}


def test_a_team_groups_its_events_by_certificate_until_it_says_otherwise(api: Api, stack: Stack) -> None:
    assert api.get("/settings").body == {"group_by_certificate": True, "posture": DEFAULT_POSTURE}

    changed = api.patch("/settings", {"group_by_certificate": False})

    assert (changed.status, changed.body) == (200, {"group_by_certificate": False, "posture": DEFAULT_POSTURE})
    assert api.get("/settings").body == {"group_by_certificate": False, "posture": DEFAULT_POSTURE}
    assert stack.store.team_settings("alpha").group_by_certificate is False
    assert stack.store.team_settings("beta").group_by_certificate is True, "another team's are its own"


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "invalid_field"), ({"group_by_certificate": "no"}, "invalid_field"), ({"colour": 1}, "unknown_field")],
    ids=["empty", "not-a-boolean", "unknown"],
)
def test_a_bad_settings_change_is_400_and_changes_nothing(api: Api, body: dict[str, Any], code: str) -> None:
    reply = api.patch("/settings", body)

    assert reply.status == 400, reply
    assert reply.error["code"] == code
    assert api.get("/settings").body == {"group_by_certificate": True, "posture": DEFAULT_POSTURE}


def test_an_admin_sets_another_teams_settings_and_a_team_cannot(api: Api, stack: Stack) -> None:
    admin = api.as_(stack.token("ops", admin=True))
    assert admin.patch("/settings?team=alpha", {"group_by_certificate": False}).status == 200
    assert api.get("/settings").body == {"group_by_certificate": False, "posture": DEFAULT_POSTURE}
    assert api.get("/settings?team=ops").status == 403


def test_the_inventory_lists_endpoints_not_yet_checked_under_pending(api: Api) -> None:
    created = api.register("https://never-checked.example.com")

    pending = api.get("/certificates?status=pending")
    ok = api.get("/certificates?status=ok")

    assert pending.status == 200, pending
    (row,) = pending.body["items"]
    assert (row["status"], row["kind"]) == ("pending", "endpoint")
    assert created["id"] in {e["target_id"] for e in row["endpoints"]}
    assert ok.body["items"] == []
    assert api.get("/certificates?status=later").status == 400


# --- silences, maintenance windows and the events they keep quiet ---------------------------------------


def test_a_silence_is_made_listed_and_ended(api: Api, stack: Stack) -> None:
    target = api.register("https://silenced.example.com")

    made = api.post("/silences", {"target": target["id"], "days": 7, "reason": "migrating", "author": "alice"})

    assert made.status == 201, made
    silence = made.body
    assert made.headers.get("Location") == f"/silences/{silence['id']}"
    assert (silence["match"], silence["value"], silence["author"], silence["active"]) == (
        "target",
        target["id"],
        "alice",
        True,
    )
    assert api.get("/silences").body["items"] == [silence]
    ended = api.delete(f"/silences/{silence['id']}")
    assert ended.status == 200, ended
    assert (ended.body["active"], ended.body["ended_at"] is not None) == (False, True)
    assert api.delete("/silences/si_0000000000000000").status == 404
    assert api.delete("/silences/nothing-like-an-id").status == 404
    other = api.as_(stack.token("beta"))
    assert other.get("/silences").body["items"] == [], "another team's are its own"
    assert other.delete(f"/silences/{silence['id']}").status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"days": 1, "reason": "x"}, "target"),
        ({"certificate": "a" * 64, "label": "env=prod", "days": 1, "reason": "x"}, "target"),
        ({"certificate": "a" * 64, "reason": "x"}, "days"),
        ({"certificate": "a" * 64, "days": 1, "ends_at": "2026-12-30T00:00:00Z", "reason": "x"}, "days"),
        ({"certificate": "a" * 64, "days": 31, "reason": "x"}, "ends_at"),
        ({"certificate": "a" * 64, "ends_at": "2020-01-01T00:00:00Z", "reason": "x"}, "ends_at"),
        ({"certificate": "a" * 64, "ends_at": "tomorrow", "reason": "x"}, "ends_at"),
        ({"certificate": "A" * 64, "days": 1, "reason": "x"}, "certificate"),
        ({"finding": "NO_SUCH_CODE", "days": 1, "reason": "x"}, "finding"),
        ({"label": "env", "days": 1, "reason": "x"}, "label"),
        (
            {"label": "env=prod", "days": 1, "reason": "x", "until_certificate_changes": True},
            "until_certificate_changes",
        ),
        ({"certificate": "a" * 64, "days": 1, "reason": ""}, "reason"),
        ({"certificate": "a" * 64, "days": 1}, "reason"),
        ({"certificate": "a" * 64, "days": 1, "reason": "x", "colour": "red"}, "colour"),
    ],
    ids=[
        "nothing-named",
        "two-named",
        "no-end",
        "two-ends",
        "too-long",
        "ended",
        "not-a-time",
        "upper-case",
        "unknown-code",
        "label-without-value",
        "until-for-a-label",
        "empty-reason",
        "no-reason",
        "unknown-field",
    ],
)
def test_a_silence_that_is_not_one_is_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    reply = api.post("/silences", body)

    assert reply.status == 400, reply
    assert reply.error["field"] == field
    assert api.get("/silences").body["items"] == []


def test_a_silence_of_a_target_another_team_owns_or_nobody_does_is_404(api: Api, stack: Stack) -> None:
    theirs = api.as_(stack.token("beta")).register("https://theirs.example.com")
    for target_id in (theirs["id"], MISSING_ID):
        reply = api.post("/silences", {"target": target_id, "days": 1, "reason": "x"})
        assert reply.status == 404, reply


def test_a_target_never_checked_has_no_certificate_to_wait_for(api: Api) -> None:
    target = api.register("https://unchecked-ack.example.com")
    reply = api.post("/silences", {"target": target["id"], "days": 3, "reason": "x", "until_certificate_changes": True})
    assert reply.status == 400, reply
    assert "served no certificate yet" in reply.error["message"]


def test_a_maintenance_window_is_planned_listed_and_ended(api: Api) -> None:
    planned = api.post(
        "/maintenance",
        {
            "starts_at": "2099-01-01T00:00:00Z",
            "ends_at": "2099-01-02T00:00:00+01:00",
            "reason": "upgrade",
            "labels": {"env": "prod"},
        },
    )
    assert planned.status == 201, planned
    window = planned.body
    assert (window["starts_at"], window["ends_at"], window["labels"], window["active"]) == (
        "2099-01-01T00:00:00Z",
        "2099-01-01T23:00:00Z",
        {"env": "prod"},
        False,
    )
    assert api.get("/maintenance").body["items"] == [window]
    assert api.delete(f"/maintenance/{window['id']}").body["ended_at"] is not None
    refused = api.post("/maintenance", {"ends_at": "2099-01-01T00:00:00Z", "reason": "upgrade"})
    assert (refused.status, refused.error["field"]) == (400, "ends_at"), "starting now, it would last decades"


def test_events_list_says_which_were_kept_quiet_and_by_what(loopback: Api, tls: LoopbackTls) -> None:
    internal_root = make_ca("Internal Team Root")
    soon = make_cert("healthy.api.example.test", issuer=internal_root, days=5)
    with TlsServer([soon]) as server:
        created = loopback.register(
            f"https://healthy.api.example.test:{server.port}", ca_bundle=internal_root.pem.decode()
        )
        quiet = loopback.post("/silences", {"target": created["id"], "days": 1, "reason": "known"}).body
        assert loopback.post(f"/targets/{created['id']}/check").status == 200
    expired = loopback.register(tls.expired_target)
    loopback.post("/silences", {"target": expired["id"], "days": 1, "reason": "known too"})
    assert loopback.post(f"/targets/{expired['id']}/check").status == 200

    still, expiring = loopback.get("/events").body["items"]
    assert (expiring["type"], expiring["state"], expiring["silenced_by"], expiring["endpoints"]) == (
        "certificate.expiring",
        "silenced",
        quiet["id"],
        [created["id"]],
    )
    # Expired days ago and still served: no silence of the target hides that (only one naming the certificate).
    assert (still["type"], still["state"], still["silenced_by"]) == ("certificate.expired", "published", None)
    assert still["id"].endswith(":expired:still-there")
