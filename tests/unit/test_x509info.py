from __future__ import annotations

import hashlib
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from chalicelib.domain.x509info import describe, not_a_bundle, quiet_certificate_warnings
from lab.certs import Issued, make_ca, make_cert
from tests.support.pki import Pki


@pytest.fixture(scope="module")
def rsa_root() -> Issued:
    """A self-signed RSA-2048 CA (RSA keys are slow to make: one per module)."""
    return make_ca("certwatch RSA Root", key="rsa2048")


def test_describes_names_serial_and_validity(pki: Pki, now: datetime) -> None:
    not_before = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)
    not_after = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    leaf = make_cert("www.example.com", issuer=pki.intermediate, not_before=not_before, not_after=not_after)
    info = describe(leaf.cert)
    assert info.subject == "CN=www.example.com"
    assert info.issuer == "CN=certwatch Test Intermediate"
    assert info.common_name == "www.example.com"
    assert info.serial == format(leaf.cert.serial_number, "x")
    assert int(info.serial, 16) == leaf.cert.serial_number
    assert info.not_before == not_before
    assert info.not_after == not_after
    assert info.not_after.tzinfo is not None
    assert info.lifetime == timedelta(days=91)


def test_serial_is_lower_case_hex_without_prefix(pki: Pki, now: datetime) -> None:
    infos = [describe(make_cert("www.example.com", issuer=pki.intermediate, now=now).cert) for _ in range(3)]
    for info in infos:
        assert info.serial == info.serial.lower()
        assert not info.serial.startswith("0x")
        int(info.serial, 16)
    assert len({info.serial for info in infos}) == 3


def test_lists_dns_and_ip_sans_apart_in_certificate_order(pki: Pki, now: datetime) -> None:
    sans = ["www.example.com", "192.0.2.7", "*.api.example.com", "2001:db8:0:0::7"]
    leaf = make_cert("www.example.com", issuer=pki.intermediate, now=now, sans=sans)
    info = describe(leaf.cert)
    assert info.sans == ("www.example.com", "*.api.example.com")
    assert info.ip_sans == ("192.0.2.7", "2001:db8::7")


def test_an_ipv4_mapped_ip_san_is_spelled_the_same_on_every_python(pki: Pki, now: datetime) -> None:
    leaf = make_cert("mapped.example.com", sans=["::ffff:192.0.2.7"], issuer=pki.intermediate, now=now)
    assert describe(leaf.cert).ip_sans == ("::ffff:192.0.2.7",)  # 3.12's str() gives ::ffff:c000:207


def test_a_certificate_without_sans_has_none(pki: Pki, now: datetime) -> None:
    leaf = make_cert("www.example.com", issuer=pki.intermediate, now=now, sans=[])
    assert describe(leaf.cert).sans == describe(leaf.cert).ip_sans == ()
    assert describe(pki.root.cert).sans == ()


@pytest.mark.parametrize(
    ("kind", "key_type", "key_size"),
    [
        ("ec256", "EC-secp256r1", 256),
        ("ec384", "EC-secp384r1", 384),
        ("ed25519", "Ed25519", 256),
        ("rsa1024", "RSA", 1024),
    ],
)
def test_key_facts(pki: Pki, now: datetime, kind: str, key_type: str, key_size: int) -> None:
    leaf = make_cert("www.example.com", issuer=pki.intermediate, now=now, key=kind)
    info = describe(leaf.cert)
    assert (info.key_type, info.key_size) == (key_type, key_size)


def test_key_facts_of_rsa_2048(rsa_root: Issued) -> None:
    info = describe(rsa_root.cert)
    assert (info.key_type, info.key_size) == ("RSA", 2048)


def test_signature_algorithm_of_an_ec_issuer(pki: Pki, now: datetime) -> None:
    leaf = make_cert("www.example.com", issuer=pki.intermediate, now=now)
    assert describe(leaf.cert).signature_algorithm == "ecdsa-with-SHA256"


@pytest.mark.parametrize(
    ("hash_name", "algorithm"),
    [("sha256", "sha256WithRSAEncryption"), ("sha1", "sha1WithRSAEncryption"), ("md5", "md5WithRSAEncryption")],
)
def test_signature_algorithm_of_an_rsa_issuer(rsa_root: Issued, now: datetime, hash_name: str, algorithm: str) -> None:
    leaf = make_cert("www.example.com", issuer=rsa_root, now=now, hash_name=hash_name)
    assert describe(leaf.cert).signature_algorithm == algorithm


def test_signature_algorithm_of_an_rsa_root_is_its_own(rsa_root: Issued) -> None:
    assert describe(rsa_root.cert).signature_algorithm == "sha256WithRSAEncryption"


def test_signature_algorithm_of_an_ed25519_issuer(now: datetime) -> None:
    leaf = make_cert("www.example.com", now=now, key="ed25519")
    assert describe(leaf.cert).signature_algorithm == "ed25519"


def test_fingerprint_is_the_sha256_of_the_der(pki: Pki, now: datetime) -> None:
    leaf = make_cert("www.example.com", issuer=pki.intermediate, now=now)
    info = describe(leaf.cert)
    assert info.fingerprint_sha256 == hashlib.sha256(leaf.der).hexdigest()
    assert info.fingerprint_sha256 == leaf.fingerprint


def test_fingerprint_of_a_hand_assembled_certificate(rsa_root: Issued, now: datetime) -> None:
    leaf = make_cert("www.example.com", issuer=rsa_root, now=now, hash_name="sha1")
    assert describe(leaf.cert).fingerprint_sha256 == hashlib.sha256(leaf.der).hexdigest()


def test_ca_flags_of_a_root_an_intermediate_and_a_leaf(pki: Pki, now: datetime) -> None:
    root, intermediate = describe(pki.root.cert), describe(pki.intermediate.cert)
    leaf = describe(make_cert("www.example.com", issuer=pki.intermediate, now=now).cert)
    assert (root.is_ca, root.self_issued) == (True, True)
    assert (intermediate.is_ca, intermediate.self_issued) == (True, False)
    assert (leaf.is_ca, leaf.self_issued) == (False, False)
    assert root.subject == root.issuer == "CN=certwatch Test Root"
    assert intermediate.issuer == root.subject


def test_a_self_signed_leaf_is_self_issued_but_no_ca(now: datetime) -> None:
    info = describe(make_cert("www.example.com", now=now).cert)
    assert (info.is_ca, info.self_issued) == (False, True)
    assert info.subject == info.issuer


def test_a_ber_encoded_certificate_cannot_be_described(pki: Pki, now: datetime) -> None:
    broken = make_cert("www.example.com", issuer=pki.intermediate, now=now, ber_boolean=True)
    with pytest.raises(ValueError, match="asn1"):  # the docstring's contract, which analysis relies on
        describe(x509.load_der_x509_certificate(broken.der))


@pytest.mark.parametrize("serial", [0, -1])
def test_what_cryptography_warns_about_a_certificates_content_is_silenced_and_nothing_else(
    pki: Pki, serial: int
) -> None:
    der = make_cert("odd.example", issuer=pki.intermediate, serial=serial, country="USA").der

    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet_certificate_warnings()
        info = describe(x509.load_der_x509_certificate(der))
        warnings.warn("any other warning", UserWarning, stacklevel=1)

    assert (info.subject, info.serial) == ("C=USA,CN=odd.example", format(serial, "x"))
    assert [str(w.message) for w in seen] == ["any other warning"]


@pytest.mark.parametrize(
    ("data", "holds"),
    [
        (b"", "is empty"),
        (b" \n", "is empty"),
        (b"build-host-7\n", "holds text"),
        (b"0123 starts like a DER SEQUENCE, but is text\n", "holds text"),
        (b"-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n", "holds a PEM EC PRIVATE KEY block"),
        (
            b"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"
            b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
            "holds PEM blocks CERTIFICATE REQUEST, PRIVATE KEY",
        ),
        (b"\x7fELF\x02\x01\x01\x00", "holds binary data that is not DER"),
    ],
)
def test_what_a_file_holds_instead_of_a_certificate_is_named(data: bytes, holds: str) -> None:
    assert not_a_bundle(data) == holds


def test_a_certificate_counts_as_one_even_when_it_does_not_parse(pki: Pki) -> None:
    assert not_a_bundle(pki.root.pem) is None
    assert not_a_bundle(pki.root.der) is None
    assert not_a_bundle(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n") is None
    assert not_a_bundle(b"\x30\x82\x01") is None  # cut short: DER all the same, and judged so
