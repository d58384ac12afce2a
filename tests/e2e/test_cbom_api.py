"""GET /cbom through ``chalice.test.Client``: the stored results of real checks over loopback TLS, as a CycloneDX
1.6 CBOM (validated by the library), scoped as GET /metrics is (a team's; every team's or the named one for an
admin token), with the certificates held in ACM and IAM for admin tokens."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from chalicelib.domain.inventory import ManagedCertificate, Source, assess
from lab.certs import Issued, make_ca, make_cert
from lab.servers import TlsServer
from tests.support.api import LOOPBACK, Api, Stack, Stacks, client_transport
from tests.support.cbom import read_cbom
from tests.support.pki import Pki


@dataclass(frozen=True)
class Served:
    name: str
    chain: tuple[Issued, ...]
    server: TlsServer

    @property
    def target(self) -> str:
        return f"https://{self.name}:{self.server.port}"

    @property
    def fingerprints(self) -> set[str]:
        return {issued.fingerprint for issued in self.chain}


@pytest.fixture(scope="module")
def served(pki: Pki) -> Iterator[dict[str, Served]]:
    """An RSA leaf under the test PKI's (ECDSA) intermediate, and an ECDSA P-384 chain of another intermediate."""
    other = make_ca("certwatch CBOM Intermediate", issuer=pki.root, key="ec384")
    chains = {
        "rsa": ("rsa.cbom.example.test", pki.intermediate, "rsa2048"),
        "p384": ("p384.cbom.example.test", other, "ec384"),
    }
    with contextlib.ExitStack() as stack:
        found = {}
        for what, (name, issuer, key) in chains.items():
            chain = (make_cert(name, issuer=issuer, key=key, days=90), issuer)
            found[what] = Served(name, chain, stack.enter_context(TlsServer(list(chain))))
        yield found


@pytest.fixture
def stack(stacks: Stacks, served: dict[str, Served]) -> Stack:
    return stacks.build(allow_cidrs=LOOPBACK, pins={s.name: ["127.0.0.1"] for s in served.values()})


@pytest.fixture
def api(client: Client, stack: Stack) -> Api:
    return Api(client_transport(client), stack.token("alpha"), stack.token("ops", admin=True))


def checked(api: Api, target: str) -> str:
    created = api.register(target)
    reply = api.post(f"/targets/{created['id']}/check")
    assert reply.status == 200, reply
    return str(created["id"])


def test_the_cbom_of_a_team_holds_the_chains_its_endpoints_served(api: Api, served: dict[str, Served]) -> None:
    for one in served.values():
        checked(api, one.target)
    reply = api.get("/cbom")
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"] == "application/vnd.cyclonedx+json; version=1.6"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="certwatch-cbom.json"'
    cbom = read_cbom(reply.body)
    for one in served.values():
        endpoint = cbom.endpoint_named(one.target)
        assert cbom.certificates_served(endpoint) == one.fingerprints
        (protocol,) = cbom.depends[endpoint]
        properties = cbom.components[protocol]["cryptoProperties"]["protocolProperties"]
        assert properties["type"] == "tls"
        assert properties["version"] == "1.3"
        assert len(properties["cipherSuites"]) == 1
    rsa_leaf = served["rsa"].chain[0].fingerprint
    key = cbom.components[f"certificate:{rsa_leaf}"]["cryptoProperties"]["certificateProperties"]["subjectPublicKeyRef"]
    assert cbom.depends[key] == {"algorithm:RSA-2048"}
    assert (
        cbom.components["algorithm:ECDSA-P384"]["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"]
        == 0
    )
    # ACM and IAM certificates are for admin tokens: a team's CBOM has only what its endpoints served.
    names = {p["name"] for c in cbom.of_type("certificate").values() for p in c["properties"]}
    assert "certwatch:source" not in names
    assert len(cbom.of_type("certificate")) == 4


def test_a_team_sees_its_own_an_admin_every_team_or_the_one_it_names(
    api: Api, stack: Stack, served: dict[str, Served]
) -> None:
    mine = checked(api, served["rsa"].target)
    beta = api.as_(stack.token("beta"))
    theirs = checked(beta, served["p384"].target)
    admin = api.as_admin()

    def targets(reply_api: Api, path: str = "/cbom") -> set[str]:
        reply = reply_api.get(path)
        assert reply.status == 200, reply
        services = read_cbom(reply.body).services.values()
        return {p["value"] for s in services for p in s["properties"] if p["name"] == "certwatch:target_id"}

    assert targets(api) == {mine}
    assert targets(beta) == {theirs}
    assert targets(admin) == {mine, theirs}
    assert targets(admin, "/cbom?team=beta") == {theirs}
    refused = api.get("/cbom?team=beta")
    assert refused.status == 403, refused


def test_an_admin_cbom_holds_the_certificates_held_in_acm(api: Api, stack: Stack) -> None:
    now = datetime.now(UTC)
    held = ManagedCertificate(
        source=Source.ACM,
        arn="arn:aws:acm:eu-west-1:123456789012:certificate/cbom",
        region="eu-west-1",
        domain="held.example.com",
        sans=("held.example.com",),
        type="IMPORTED",
        status="ISSUED",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=200),
        key_algorithm="RSA_3072",
        fingerprint_sha256="dd" * 32,
    )
    stack.store.put_managed(assess(held, now))
    admin = read_cbom(api.as_admin().get("/cbom").body)
    component = admin.components["certificate:" + "dd" * 32]
    assert {"name": "certwatch:arn", "value": held.arn} in component["properties"]
    (key,) = [ref for ref in admin.depends["certificate:" + "dd" * 32] if ref.startswith("key:")]
    assert admin.depends[key] == {"algorithm:RSA-3072"}
    assert "certificate:" + "dd" * 32 not in read_cbom(api.get("/cbom").body).components


def test_without_a_token_it_is_401_json(api: Api) -> None:
    reply = api.as_(None).get("/cbom")
    assert reply.status == 401
    assert reply.error["code"] == "unauthorized"
