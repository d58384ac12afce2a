"""The CBOM built from results: CycloneDX 1.6 (validated by the library), one component per asset, and the
dependencies endpoint → protocol → certificate → algorithms."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.domain.inventory import ManagedCertificate, Source
from chalicelib.domain.models import CertificateInfo, CheckResult, Endpoint, Protocol, Status, TargetReport
from chalicelib.presentation.cbom import Observed, cbom_json
from tests.support.cbom import Cbom, read_cbom

LEAF_FP, INTERMEDIATE_FP, PQ_FP = "aa" * 32, "bb" * 32, "cc" * 32


def _cert(now: datetime, fingerprint: str, subject: str, **facts: object) -> CertificateInfo:
    info = CertificateInfo(
        subject=subject,
        issuer="CN=Example Intermediate",
        serial="3e8",
        sans=("www.example.com",),
        ip_sans=(),
        key_type="RSA",
        key_size=2048,
        signature_algorithm="sha256WithRSAEncryption",
        fingerprint_sha256=fingerprint,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=90),
        is_ca=False,
        self_issued=False,
    )
    return replace(info, **facts)  # type: ignore[arg-type]


def _result(
    now: datetime, address: str, leaf: CertificateInfo, chain: tuple[CertificateInfo, ...], **kw: object
) -> CheckResult:
    return CheckResult(
        address,
        Status.OK,
        now,
        leaf=leaf,
        chain=chain,
        tls_version="TLSv1.3",
        cipher="TLS_AES_128_GCM_SHA256",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def cbom(now: datetime) -> Cbom:
    leaf = _cert(now, LEAF_FP, "CN=www.example.com")
    intermediate = _cert(
        now,
        INTERMEDIATE_FP,
        "CN=Example Intermediate",
        issuer="CN=Example Root",
        key_type="EC-secp384r1",
        key_size=384,
        signature_algorithm="ecdsa-with-SHA384",
        is_ca=True,
    )
    pq = _cert(now, PQ_FP, "CN=pq.example.com", key_type="ML-DSA-65", key_size=15616, signature_algorithm="ML-DSA-87")
    web = TargetReport(
        Endpoint("www.example.com", 443),
        (
            _result(now, "192.0.2.1", leaf, (intermediate,), group="X25519MLKEM768"),
            _result(now, "192.0.2.2", leaf, (intermediate,)),  # the same chain: its components once
        ),
        now,
    )
    mail = TargetReport(
        Endpoint("mail.example.com", 25, Protocol.SMTP),
        (CheckResult("192.0.2.25", Status.ERROR, now),),  # nothing read: no protocol
        now,
    )
    pq_site = TargetReport(Endpoint("pq.example.com", 443), (_result(now, "192.0.2.3", pq, ()),), now)
    acm = ManagedCertificate(
        source=Source.ACM,
        arn="arn:aws:acm:eu-west-1:123456789012:certificate/abc",
        region="eu-west-1",
        domain="api.example.com",
        sans=("api.example.com",),
        type="AMAZON_ISSUED",
        status="ISSUED",
        not_before=now - timedelta(days=10),
        not_after=now + timedelta(days=300),
        key_algorithm="EC_prime256v1",
        issuer="CN=Amazon RSA 2048 M02",
        in_use_by=("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/1",),
    )
    observed = [Observed(web, "alpha", "tg_web"), Observed(mail, "alpha", "tg_mail"), Observed(pq_site)]
    return read_cbom(cbom_json(observed, [acm], now=now, version="9.9.9"))


def test_every_certificate_algorithm_key_and_protocol_is_a_cryptographic_asset_once(cbom: Cbom) -> None:
    assert set(cbom.of_type("certificate")) == {
        f"certificate:{LEAF_FP}",
        f"certificate:{INTERMEDIATE_FP}",
        f"certificate:{PQ_FP}",
        "certificate:" + _acm_identity(cbom),
    }
    assert set(cbom.of_type("algorithm")) == {
        "algorithm:RSA-2048",
        "algorithm:sha256WithRSAEncryption",
        "algorithm:SHA-256",
        "algorithm:ECDSA-P384",
        "algorithm:ecdsa-with-SHA384",
        "algorithm:SHA-384",
        "algorithm:ML-DSA-65",
        "algorithm:ML-DSA-87",
        "algorithm:ECDSA-P256",  # the ACM certificate's key
        "algorithm:X25519MLKEM768",
    }
    assert len(cbom.of_type("related-crypto-material")) == 4  # one public key per certificate
    assert len(cbom.of_type("protocol")) == 3  # the mail server's address read nothing
    assert {c["type"] for c in cbom.components.values()} == {"cryptographic-asset"}


def _acm_identity(cbom: Cbom) -> str:
    (ref,) = [
        ref
        for ref, c in cbom.of_type("certificate").items()
        if {"name": "certwatch:source", "value": "acm"} in c.get("properties", [])
    ]
    return ref.removeprefix("certificate:")


def test_a_certificate_says_its_properties_and_refers_to_its_algorithm_and_key(cbom: Cbom, now: datetime) -> None:
    leaf = cbom.components[f"certificate:{LEAF_FP}"]
    assert leaf["name"] == "www.example.com"
    assert leaf["hashes"] == [{"alg": "SHA-256", "content": LEAF_FP}]
    properties = leaf["cryptoProperties"]["certificateProperties"]
    assert properties["subjectName"] == "CN=www.example.com"
    assert properties["issuerName"] == "CN=Example Intermediate"
    assert properties["certificateFormat"] == "X.509"
    assert properties["signatureAlgorithmRef"] == "algorithm:sha256WithRSAEncryption"
    assert properties["subjectPublicKeyRef"] == f"key:{LEAF_FP}"
    assert datetime.fromisoformat(properties["notValidAfter"]) == now + timedelta(days=90)
    key = cbom.components[f"key:{LEAF_FP}"]["cryptoProperties"]
    assert key["relatedCryptoMaterialProperties"] == {
        "type": "public-key",
        "algorithmRef": "algorithm:RSA-2048",
        "size": 2048,
        "format": "SubjectPublicKeyInfo",
    }
    assert cbom.depends[f"certificate:{LEAF_FP}"] == {
        "algorithm:sha256WithRSAEncryption",
        "algorithm:SHA-256",
        f"key:{LEAF_FP}",
    }
    assert cbom.depends[f"key:{LEAF_FP}"] == {"algorithm:RSA-2048"}


def test_an_algorithm_says_its_primitive_parameter_set_quantum_level_and_oid(cbom: Cbom) -> None:
    def algorithm(name: str) -> dict[str, object]:
        return dict(cbom.components[f"algorithm:{name}"]["cryptoProperties"])

    assert algorithm("RSA-2048") == {
        "assetType": "algorithm",
        "algorithmProperties": {"primitive": "pke", "parameterSetIdentifier": "2048", "nistQuantumSecurityLevel": 0},
        "oid": "1.2.840.113549.1.1.1",
    }
    assert algorithm("ECDSA-P384")["algorithmProperties"] == {
        "primitive": "signature",
        "parameterSetIdentifier": "P-384",
        "curve": "secp384r1",
        "nistQuantumSecurityLevel": 0,
    }
    assert algorithm("ML-DSA-87")["algorithmProperties"] == {
        "primitive": "signature",
        "parameterSetIdentifier": "ML-DSA-87",
        "nistQuantumSecurityLevel": 5,
    }
    assert algorithm("ML-DSA-87")["oid"] == "2.16.840.1.101.3.4.3.19"
    assert algorithm("SHA-384")["algorithmProperties"] == {
        "primitive": "hash",
        "parameterSetIdentifier": "384",
        "nistQuantumSecurityLevel": 4,
    }
    assert algorithm("X25519MLKEM768")["algorithmProperties"] == {
        "primitive": "kem",
        "parameterSetIdentifier": "X25519MLKEM768",
        "nistQuantumSecurityLevel": 3,
    }


def test_endpoints_depend_on_their_protocols_which_depend_on_the_chain_served(cbom: Cbom) -> None:
    web = cbom.endpoint_named("https://www.example.com:443")
    service = cbom.services[web]
    assert service["endpoints"] == ["https://www.example.com:443"]
    assert {"name": "certwatch:team", "value": "alpha"} in service["properties"]
    assert {"name": "certwatch:target_id", "value": "tg_web"} in service["properties"]
    assert len(cbom.depends[web]) == 2  # one protocol per address
    assert cbom.certificates_served(web) == {LEAF_FP, INTERMEDIATE_FP}
    first, second = sorted(cbom.depends[web])
    protocol = cbom.components[first]["cryptoProperties"]["protocolProperties"]
    assert protocol == {
        "type": "tls",
        "version": "1.3",
        "cipherSuites": [{"name": "TLS_AES_128_GCM_SHA256"}],
        "cryptoRefArray": ["algorithm:X25519MLKEM768"],
    }
    assert "algorithm:X25519MLKEM768" in cbom.depends[first]
    assert {"name": "certwatch:key_exchange", "value": "hybrid post-quantum"} in cbom.components[first]["properties"]
    assert "cryptoRefArray" not in cbom.components[second]["cryptoProperties"]["protocolProperties"]
    assert not any(p["name"] == "certwatch:key_exchange" for p in cbom.components[second].get("properties", []))
    assert cbom.depends[cbom.endpoint_named("smtp://mail.example.com:25")] == set()
    assert cbom.certificates_served(cbom.endpoint_named("https://pq.example.com:443")) == {PQ_FP}


def test_an_acm_certificate_is_a_component_with_its_arn_and_key(cbom: Cbom) -> None:
    ref = "certificate:" + _acm_identity(cbom)
    component = cbom.components[ref]
    assert component["name"] == "api.example.com"
    assert {"name": "certwatch:arn", "value": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"} in component[
        "properties"
    ]
    properties = component["cryptoProperties"]["certificateProperties"]
    assert "signatureAlgorithmRef" not in properties  # ACM does not say it
    (key,) = [r for r in cbom.depends[ref] if r.startswith("key:")]
    assert cbom.depends[key] == {"algorithm:ECDSA-P256"}


def test_the_document_names_certwatch_as_its_tool_and_when(cbom: Cbom, now: datetime) -> None:
    metadata = cbom.document["metadata"]
    assert metadata["tools"]["components"] == [{"type": "application", "name": "certwatch", "version": "9.9.9"}]
    assert datetime.fromisoformat(metadata["timestamp"]) == now
    assert cbom.document["serialNumber"].startswith("urn:uuid:")


def test_an_empty_cbom_is_still_valid(now: datetime) -> None:
    empty = read_cbom(cbom_json([], now=now, version="1"))
    assert empty.components == {}
