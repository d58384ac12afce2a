"""The algorithms catalogue, ML-DSA certificates read as such, and QUANTUM_VULNERABLE_SIGNATURE."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509

from chalicelib.domain.algorithms import (
    Primitive,
    certificate_algorithms,
    key_algorithm,
    signature_algorithm,
)
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.models import CheckPolicy, Finding, FindingCode, PosturePolicy, Severity
from chalicelib.domain.truststore import TrustStore
from chalicelib.domain.x509info import describe
from chalicelib.presentation.reports import result_to_dict
from lab.certs import Issued, make_ca, make_cert
from tests.support.pki import Pki

NAME = "www.example.com"


@pytest.fixture(scope="module")
def pq_chain() -> tuple[Issued, Issued, Issued]:
    """An ML-DSA chain as RFC 9881 has it: root ML-DSA-87, intermediate ML-DSA-65, leaf ML-DSA-44."""
    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # the ``now`` fixture's moment
    root = make_ca("certwatch ML-DSA Root", key="mldsa87", now=at)
    intermediate = make_ca("certwatch ML-DSA Intermediate", issuer=root, key="mldsa65", now=at)
    return root, intermediate, make_cert(NAME, issuer=intermediate, key="mldsa44", now=at)


def _policy(by: date | None) -> CheckPolicy:
    return CheckPolicy(posture=PosturePolicy(quantum_safe_signatures_by=by))


@pytest.mark.parametrize(
    ("key_type", "size", "name", "primitive", "parameter_set", "oid", "level"),
    [
        ("RSA", 2048, "RSA-2048", Primitive.PKE, "2048", "1.2.840.113549.1.1.1", 0),
        ("EC-secp256r1", 256, "ECDSA-P256", Primitive.SIGNATURE, "P-256", "1.2.840.10045.2.1", 0),
        ("EC-prime256v1", 256, "ECDSA-P256", Primitive.SIGNATURE, "P-256", "1.2.840.10045.2.1", 0),  # ACM's name
        ("EC-secp384r1", 384, "ECDSA-P384", Primitive.SIGNATURE, "P-384", "1.2.840.10045.2.1", 0),
        ("Ed25519", 256, "Ed25519", Primitive.SIGNATURE, "Ed25519", "1.3.101.112", 0),
        ("ML-DSA-44", 10496, "ML-DSA-44", Primitive.SIGNATURE, "ML-DSA-44", "2.16.840.1.101.3.4.3.17", 2),
        ("ML-DSA-65", 15616, "ML-DSA-65", Primitive.SIGNATURE, "ML-DSA-65", "2.16.840.1.101.3.4.3.18", 3),
        ("ML-DSA-87", 20736, "ML-DSA-87", Primitive.SIGNATURE, "ML-DSA-87", "2.16.840.1.101.3.4.3.19", 5),
        (
            "SLH-DSA-SHA2-128s",
            0,
            "SLH-DSA-SHA2-128s",
            Primitive.SIGNATURE,
            "SLH-DSA-SHA2-128s",
            "2.16.840.1.101.3.4.3.20",
            1,
        ),
        (
            "SLH-DSA-SHAKE-256f",
            0,
            "SLH-DSA-SHAKE-256f",
            Primitive.SIGNATURE,
            "SLH-DSA-SHAKE-256f",
            "2.16.840.1.101.3.4.3.31",
            5,
        ),
    ],
)
def test_a_key_type_names_its_algorithm_and_quantum_level(
    key_type: str, size: int, name: str, primitive: Primitive, parameter_set: str, oid: str, level: int
) -> None:
    algorithm = key_algorithm(key_type, size)
    assert (algorithm.name, algorithm.primitive, algorithm.parameter_set, algorithm.oid) == (
        name,
        primitive,
        parameter_set,
        oid,
    )
    assert algorithm.nist_quantum_level == level
    assert algorithm.quantum_vulnerable is (level == 0)


@pytest.mark.parametrize(
    ("signature", "oid", "level", "hash_name", "hash_level"),
    [
        ("sha256WithRSAEncryption", "1.2.840.113549.1.1.11", 0, "SHA-256", 2),
        ("sha384WithRSAEncryption", "1.2.840.113549.1.1.12", 0, "SHA-384", 4),
        ("ecdsa-with-SHA256", "1.2.840.10045.4.3.2", 0, "SHA-256", 2),
        ("ecdsa-with-SHA512", "1.2.840.10045.4.3.4", 0, "SHA-512", 5),
        ("sha1WithRSAEncryption", "1.2.840.113549.1.1.5", 0, "SHA-1", 0),
        ("ed25519", "1.3.101.112", 0, None, None),
        ("rsassaPss", "1.2.840.113549.1.1.10", 0, None, None),  # its hash is in parameters the facts do not keep
        ("ML-DSA-65", "2.16.840.1.101.3.4.3.18", 3, None, None),
        ("2.16.840.1.101.3.4.3.24", "2.16.840.1.101.3.4.3.24", 5, None, None),  # SLH-DSA-SHA2-256s by its OID
    ],
)
def test_a_signature_algorithm_names_its_oid_level_and_hash(
    signature: str, oid: str, level: int, hash_name: str | None, hash_level: int | None
) -> None:
    facts = certificate_algorithms("RSA", 2048, signature)
    assert facts.signature.oid == oid
    assert facts.signature.primitive is Primitive.SIGNATURE
    assert facts.signature.nist_quantum_level == level
    assert (facts.hash and facts.hash.name) == hash_name
    assert (facts.hash and facts.hash.nist_quantum_level) == hash_level
    if facts.hash is not None:
        assert facts.hash.primitive is Primitive.HASH


def test_an_unknown_algorithm_is_said_with_no_level() -> None:
    assert signature_algorithm("1.2.3.4.5").nist_quantum_level is None
    assert signature_algorithm("1.2.3.4.5").oid == "1.2.3.4.5"
    unknown = key_algorithm("GOST", 256)
    assert (unknown.primitive, unknown.nist_quantum_level, unknown.quantum_vulnerable) == (
        Primitive.UNKNOWN,
        None,
        False,
    )


def test_an_ml_dsa_certificate_is_read_by_its_parameter_sets(pq_chain: tuple[Issued, Issued, Issued]) -> None:
    root, intermediate, leaf = pq_chain
    info = describe(leaf.cert)
    assert (info.key_type, info.key_size, info.signature_algorithm) == ("ML-DSA-44", 8 * 1312, "ML-DSA-65")
    assert info.algorithms.key.nist_quantum_level == 2
    assert info.algorithms.signature.nist_quantum_level == 3
    assert describe(root.cert).signature_algorithm == "ML-DSA-87"
    assert describe(intermediate.cert).key_type == "ML-DSA-65"


def test_an_ml_dsa_chain_verifies_and_is_not_quantum_vulnerable(
    pq_chain: tuple[Issued, Issued, Issued], now: datetime
) -> None:
    root, intermediate, leaf = pq_chain
    analysis = analyze_chain(
        [leaf.der, intermediate.der], name=NAME, now=now, trust=TrustStore([root.cert]), policy=_policy(now.date())
    )
    assert analysis.findings == ()
    assert len(analysis.verified) == 3


def _classical(pki: Pki, now: datetime, by: date | None) -> list[Finding]:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now)
    analysis = analyze_chain([leaf.der, pki.intermediate.der], name=NAME, now=now, trust=pki.trust, policy=_policy(by))
    return [f for f in analysis.findings if f.code is FindingCode.QUANTUM_VULNERABLE_SIGNATURE]


def test_no_quantum_finding_without_a_date(pki: Pki, now: datetime) -> None:
    assert _classical(pki, now, None) == []


def test_an_ecdsa_chain_is_info_before_the_date(pki: Pki, now: datetime) -> None:
    (finding,) = _classical(pki, now, date(2030, 1, 1))
    assert finding.severity is Severity.INFO
    assert "by 2030-01-01" in finding.message
    assert "the leaf is signed with ecdsa-with-SHA256" in finding.message
    assert "CN=certwatch Test Intermediate is signed with ecdsa-with-SHA256" in finding.message
    assert "the leaf's key is ECDSA-P256" in finding.message


def test_an_ecdsa_chain_is_a_warning_from_the_date(pki: Pki, now: datetime) -> None:
    for by in (now.date(), now.date() - timedelta(days=1)):
        (finding,) = _classical(pki, now, by)
        assert finding.severity is Severity.WARNING
        assert f"since {by:%Y-%m-%d}" in finding.message


def test_a_classical_root_signing_an_ml_dsa_leaf_is_still_vulnerable(pki: Pki, now: datetime) -> None:
    """The leaf's key is quantum-safe, but the signature a client checks on it is ECDSA."""
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now, key="mldsa65")
    analysis = analyze_chain(
        [leaf.der, pki.intermediate.der], name=NAME, now=now, trust=pki.trust, policy=_policy(date(2030, 1, 1))
    )
    (finding,) = [f for f in analysis.findings if f.code is FindingCode.QUANTUM_VULNERABLE_SIGNATURE]
    assert "the leaf's key" not in finding.message
    assert "the leaf is signed with ecdsa-with-SHA256" in finding.message


def test_the_result_document_says_every_certificates_algorithms(pki: Pki, now: datetime) -> None:
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now, key="rsa2048")
    analysis = analyze_chain(
        [leaf.der, pki.intermediate.der], name=NAME, now=now, trust=pki.trust, policy=CheckPolicy()
    )
    document = result_to_dict(analysis.result(now))
    assert document["leaf"]["algorithms"] == {
        "key": {
            "name": "RSA-2048",
            "primitive": "pke",
            "parameter_set": "2048",
            "curve": None,
            "oid": "1.2.840.113549.1.1.1",
            "nist_quantum_level": 0,
        },
        "signature": {
            "name": "ecdsa-with-SHA256",
            "primitive": "signature",
            "parameter_set": None,
            "curve": None,
            "oid": "1.2.840.10045.4.3.2",
            "nist_quantum_level": 0,
        },
        "hash": {
            "name": "SHA-256",
            "primitive": "hash",
            "parameter_set": "256",
            "curve": None,
            "oid": "2.16.840.1.101.3.4.2.1",
            "nist_quantum_level": 2,
        },
    }
    (intermediate,) = document["chain"]
    assert intermediate["algorithms"]["key"]["name"] == "ECDSA-P256"
    assert intermediate["algorithms"]["key"]["curve"] == "secp256r1"


def test_a_curve_is_one_algorithm_whichever_name_it_goes_by() -> None:
    assert key_algorithm("EC-prime256v1", 256) == key_algorithm("EC-secp256r1", 256)  # ACM's name, cryptography's


def test_an_ml_dsa_leaf_without_digital_signature_names_its_key_whole(pki: Pki, now: datetime) -> None:
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    leaf = make_cert(NAME, issuer=pki.intermediate, now=now, key="mldsa65", extensions=[(usage, True)])
    analysis = analyze_chain(
        [leaf.der, pki.intermediate.der], name=NAME, now=now, trust=pki.trust, policy=CheckPolicy()
    )
    (finding,) = [f for f in analysis.findings if f.code is FindingCode.NOT_FOR_SERVER_AUTH]
    assert "which its ML-DSA-65 key needs in every TLS handshake" in finding.message
