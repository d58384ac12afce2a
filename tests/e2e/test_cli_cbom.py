"""``certwatch check --cbom`` over the lab's zoo and ``certwatch cbom --local`` over a stack on moto's server: each
CBOM validates against CycloneDX 1.6, and its components and dependencies are the chains the servers sent."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.checks.engine import CheckEngine
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.models import Endpoint
from chalicelib.domain.targets import ResultSummary, Target, TargetSpec, new_target_id
from chalicelib.domain.tokens import issue
from chalicelib.domain.truststore import TrustStore
from lab.certs import make_ca, make_cert
from lab.servers import TlsServer
from lab.zoo import Zoo, running_zoo
from tests.support.aws import CERTWATCH, LocalClients, local_stage_on_moto
from tests.support.aws import certwatch_local as certwatch
from tests.support.cbom import read_cbom


@pytest.fixture(scope="module")
def zoo() -> Iterator[Zoo]:
    with running_zoo() as started:
        yield started


def test_check_cbom_over_the_zoo_holds_every_chain_served(zoo: Zoo) -> None:
    done = subprocess.run(
        [CERTWATCH, "check", "--cbom", "--ca-file", zoo.ca_file, "--timeout", "2", *zoo.resolve_args(), *zoo.targets],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr  # the zoo holds critical exhibits: the exit status is the check's
    cbom = read_cbom(done.stdout)
    assert len(cbom.services) == len(zoo.exhibits)
    served_any = 0
    for exhibit in zoo.exhibits:
        endpoint = cbom.endpoint_named(exhibit.target)
        fingerprints = {issued.fingerprint for issued in exhibit.chain}
        assert cbom.certificates_served(endpoint) == fingerprints, exhibit.name
        served_any += bool(fingerprints)
        for fingerprint in fingerprints:
            certificate = cbom.components[f"certificate:{fingerprint}"]["cryptoProperties"]["certificateProperties"]
            assert certificate["certificateFormat"] == "X.509"
            for ref in (certificate["signatureAlgorithmRef"], certificate["subjectPublicKeyRef"]):
                assert ref in cbom.depends[f"certificate:{fingerprint}"]
                assert ref in cbom.components
    assert served_any >= len(zoo.exhibits) - 2  # all but the silent exhibits sent a chain
    protocols = cbom.of_type("protocol").values()
    assert {p["cryptoProperties"]["protocolProperties"]["type"] for p in protocols} == {"tls"}


def test_check_cbom_and_json_are_one_or_the_other() -> None:
    done = subprocess.run(
        [CERTWATCH, "check", "--cbom", "--json", "tls://127.0.0.1:9"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 3  # a usage error is unknown (3), never read as critical
    assert "not allowed with argument" in done.stderr


def test_certwatch_cbom_explains_itself() -> None:
    done = subprocess.run([CERTWATCH, "cbom", "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    assert "--local" in done.stdout
    assert "--stage" in done.stdout
    assert "CycloneDX 1.6" in " ".join(done.stdout.split())


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    with local_stage_on_moto() as port:
        yield port


def test_certwatch_cbom_reads_the_stored_results_of_real_checks_and_acm(moto_port: int) -> None:
    """A chain minted here, served on loopback, checked by the engine and stored as the checker stores it."""
    root = make_ca("certwatch CBOM CLI Root", key="rsa2048")
    intermediate = make_ca("certwatch CBOM CLI Intermediate", issuer=root, key="ec384")
    leaf = make_cert("cli.cbom.test", issuer=intermediate, key="rsa2048", days=60)
    store = DynamoStore(LocalClients(moto_port).dynamodb(), "certwatch-local")
    held = make_cert("held.cbom.test", days=200)
    LocalClients(moto_port).acm().import_certificate(Certificate=held.pem, PrivateKey=held.key_pem)
    with TlsServer([leaf, intermediate]) as server:
        engine = CheckEngine(
            trust=TrustStore([root.cert]), resolver=SystemResolver({"cli.cbom.test": ["127.0.0.1"]}), timeout=5
        )
        try:
            targets = {}
            for team in ("local", "cbom-other"):
                store.put_token(
                    issue(team, admin=False, now=datetime.now(UTC))[1]
                )  # every team is every team with a token
                endpoint = Endpoint("cli.cbom.test", server.port)
                report = engine.check(endpoint)
                now = datetime.now(UTC)
                target = Target(new_target_id(), team, TargetSpec(endpoint), now, now, now)
                store.create_target(target)
                store.save_result(team, target.id, ResultSummary.of(report), report)
                targets[team] = target.id
        finally:
            engine.close()
    assert certwatch(moto_port, "inventory", "--scan").returncode == 0

    every = certwatch(moto_port, "cbom")
    one = certwatch(moto_port, "cbom", "--team", "cbom-other")

    assert every.returncode == 0, every.stderr
    cbom = read_cbom(every.stdout)
    # moto's servers share one in-process state: other modules' targets may be there too.
    mine = {
        ref: p["value"]
        for ref, s in cbom.services.items()
        for p in s["properties"]
        if p["name"] == "certwatch:target_id" and p["value"] in targets.values()
    }
    assert set(mine.values()) == set(targets.values())
    for service in mine:
        assert cbom.certificates_served(service) == {leaf.fingerprint, intermediate.fingerprint}
    (acm,) = [c for c in cbom.of_type("certificate").values() if c["name"] == "held.cbom.test"]  # for the operator
    assert {p["name"] for p in acm["properties"]} >= {"certwatch:arn", "certwatch:source"}
    assert cbom.depends[f"certificate:{leaf.fingerprint}"] >= {
        "algorithm:ecdsa-with-SHA256",
        "algorithm:SHA-256",
        f"key:{leaf.fingerprint}",
    }
    assert one.returncode == 0, one.stderr
    only = read_cbom(one.stdout)
    teams = {p["value"] for s in only.services.values() for p in s["properties"] if p["name"] == "certwatch:team"}
    assert teams == {"cbom-other"}
    assert len(only.services) == 1
