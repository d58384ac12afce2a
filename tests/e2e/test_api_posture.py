"""Posture through the HTTP API (``chalice.test.Client``, in-memory stack): a team's posture policy and a
target's own, set and read back, and what a real check against loopback servers says with each — the key
exchange group and its class in the result, NO_POST_QUANTUM_KEY_EXCHANGE and LEGACY_TLS_ACCEPTED.

Every request and answer is validated against the OpenAPI document (tests/support/contract.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from OpenSSL import SSL

from lab.certs import make_cert
from lab.servers import BundledTlsServer
from tests.support.api import HEALTHY, LOOPBACK, LOOPBACK_PINS, Api, LoopbackTls, Stack, Stacks, client_transport
from tests.support.pki import Pki
from tests.support.scrape import read_openmetrics

DEFAULT_POSTURE = {
    "require_post_quantum": False,
    "quantum_safe_signatures_by": None,
    "note_classical": False,
    "legacy_tls": False,
}


@pytest.fixture(scope="module")
def bundled(pki: Pki) -> Iterator[dict[str, BundledTlsServer]]:
    """Servers on the bundled OpenSSL (X25519MLKEM768): one TLS 1.2+ only, one still accepting TLS 1.0."""
    leaf = make_cert(HEALTHY, issuer=pki.intermediate, days=90)
    with contextlib.ExitStack() as stack:
        yield {
            "modern": stack.enter_context(BundledTlsServer([leaf, pki.intermediate], versions=(SSL.TLS1_2_VERSION, 0))),
            "legacy": stack.enter_context(BundledTlsServer([leaf, pki.intermediate], versions=(SSL.TLS1_VERSION, 0))),
        }


@pytest.fixture
def stack(stacks: Stacks) -> Stack:
    return stacks.build(allow_cidrs=LOOPBACK, pins=LOOPBACK_PINS)


@pytest.fixture
def api(client: Client, stack: Stack) -> Api:
    return Api(client_transport(client), stack.token("alpha"))


def _check(api: Api, target: str, **fields: Any) -> dict[str, Any]:
    created = api.register(target, **fields)
    checked = api.post(f"/targets/{created['id']}/check")
    assert checked.status == 200, checked
    body: dict[str, Any] = checked.body
    return body


def _address(checked: dict[str, Any]) -> dict[str, Any]:
    (result,) = checked["result"]["results"]
    assert isinstance(result, dict)
    return result


def test_a_teams_posture_policy_is_its_own_and_changes_field_by_field(api: Api, stack: Stack) -> None:
    assert api.get("/settings").body["posture"] == DEFAULT_POSTURE

    changed = api.patch("/settings", {"posture": {"require_post_quantum": True}})
    again = api.patch("/settings", {"posture": {"quantum_safe_signatures_by": "2030-01-01", "legacy_tls": True}})

    assert changed.status == 200, changed
    assert again.body["posture"] == {
        **DEFAULT_POSTURE,
        "require_post_quantum": True,
        "quantum_safe_signatures_by": "2030-01-01",
        "legacy_tls": True,
    }
    assert again.body["group_by_certificate"] is True, "the other settings stay"
    assert api.get("/settings").body == again.body
    assert stack.store.team_settings("beta").posture.require_post_quantum is False, "another team's are its own"


@pytest.mark.parametrize(
    "posture",
    [
        {"require_post_quantum": "yes"},
        {"quantum_safe_signatures_by": "2030"},
        {"quantum_safe_signatures_by": "2030-13-01"},
        {"colour": "red"},
        "strict",
        None,
    ],
)
def test_a_bad_posture_is_400_naming_it_and_changes_nothing(api: Api, posture: object) -> None:
    reply = api.patch("/settings", {"posture": posture})

    assert reply.status == 400, reply
    assert reply.error["field"] == "posture"
    assert api.get("/settings").body["posture"] == DEFAULT_POSTURE


def test_a_classical_endpoint_is_said_classical_and_warns_where_the_team_requires_post_quantum(
    api: Api, tls: LoopbackTls
) -> None:
    quiet = _check(api, tls.healthy_target)
    assert api.patch("/settings", {"posture": {"require_post_quantum": True}}).status == 200
    required = api.post(f"/targets/{quiet['id']}/check").body

    address = _address(quiet)
    assert (address["group"], address["key_exchange"], address["legacy_tls"]) == ("x25519", "classical", None)
    assert (quiet["result"]["status"], quiet["latest"]["codes"]) == ("ok", [])
    assert required["result"]["status"] == "warning"
    assert required["latest"]["codes"] == ["NO_POST_QUANTUM_KEY_EXCHANGE"]
    (finding,) = required["result"]["findings"]
    assert (finding["severity"], finding["code"]) == ("warning", "NO_POST_QUANTUM_KEY_EXCHANGE")


def test_a_targets_own_posture_policy_replaces_its_teams(api: Api, tls: LoopbackTls) -> None:
    assert api.patch("/settings", {"posture": {"require_post_quantum": True}}).status == 200

    noted = _check(api, tls.healthy_target, posture={"note_classical": True})

    assert noted["posture"] == {**DEFAULT_POSTURE, "note_classical": True}, "whole: the team's requirement is not in it"
    (finding,) = noted["result"]["findings"]
    assert (finding["severity"], finding["code"]) == ("info", "NO_POST_QUANTUM_KEY_EXCHANGE")
    assert noted["result"]["status"] == "ok", "an info finding changes no status"

    path = f"/targets/{noted['id']}"
    back = api.patch(path, {"posture": None})
    assert (back.status, back.body["posture"]) == (200, None)
    assert api.post(f"{path}/check").body["result"]["status"] == "warning", "the team's policy applies again"


def test_a_hybrid_post_quantum_endpoint_is_named_so(api: Api, bundled: dict[str, BundledTlsServer]) -> None:
    assert api.patch("/settings", {"posture": {"require_post_quantum": True}}).status == 200

    checked = _check(api, f"tls://127.0.0.1:{bundled['modern'].port}", sni=HEALTHY)

    address = _address(checked)
    assert (address["group"], address["key_exchange"]) == ("X25519MLKEM768", "hybrid post-quantum")
    assert (checked["result"]["status"], checked["result"]["findings"]) == ("ok", [])


def test_the_legacy_probe_runs_where_a_targets_policy_asks(api: Api, bundled: dict[str, BundledTlsServer]) -> None:
    target = f"tls://127.0.0.1:{bundled['legacy'].port}"

    asked = _check(api, target, sni=HEALTHY, posture={"legacy_tls": True})
    created = api.register(target, sni="www.healthy.api.example.test")  # another registration of the server
    not_asked = api.post(f"/targets/{created['id']}/check").body

    assert _address(asked)["legacy_tls"] == ["TLSv1", "TLSv1.1"]
    assert asked["latest"]["codes"] == ["LEGACY_TLS_ACCEPTED"]
    assert asked["result"]["status"] == "warning"
    assert _address(not_asked)["legacy_tls"] is None
    assert "LEGACY_TLS_ACCEPTED" not in not_asked["latest"]["codes"]


def test_a_targets_posture_is_refused_when_malformed(api: Api) -> None:
    reply = api.post("/targets", {"target": "https://www.example.com", "posture": {"legacy_tls": 1}})

    assert reply.status == 400, reply
    assert reply.error["field"] == "posture"
    assert "legacy_tls must be true or false" in reply.error["message"]


def test_metrics_name_each_addresss_group_and_its_class(
    api: Api, tls: LoopbackTls, bundled: dict[str, BundledTlsServer]
) -> None:
    classical = _check(api, tls.healthy_target)["id"]
    hybrid = _check(api, f"tls://127.0.0.1:{bundled['modern'].port}", sni=HEALTHY)["id"]

    reply = api.call("GET", "/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0"})

    assert reply.status == 200, reply
    scrape = read_openmetrics(reply.body)
    name = "certwatch_tls_group_info"
    assert scrape.value(name, target_id=classical, group="x25519", key_exchange="classical") == 1
    assert scrape.value(name, target_id=hybrid, group="X25519MLKEM768", key_exchange="hybrid post-quantum") == 1
