"""A small private PKI for tests: a root, an intermediate it issued, and a trust store of the root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from chalicelib.domain.truststore import TrustStore
from lab.certs import Issued, der_to_pem, make_ca, make_cert, make_key


@dataclass(frozen=True)
class Pki:
    """A private root and an intermediate it issued; ``trust`` trusts the root only."""

    root: Issued
    intermediate: Issued
    trust: TrustStore


def make_pki() -> Pki:
    root = make_ca("certwatch Test Root")
    intermediate = make_ca("certwatch Test Intermediate", issuer=root)
    return Pki(root, intermediate, TrustStore([root.cert]))


# CA certificates a caller may hand in as a CA bundle that load but cannot be read whole, by what
# is wrong, with the words the refusal names it by. cryptography parses lazily: each of these
# loads, then raises (or loads not at all) once the broken part is read.
UNREADABLE_ANCHORS: dict[str, str] = {
    "subject-not-utf8": "its subject cannot be read",
    "teletex-subject": "its subject cannot be read",
    "version-2": "its X.509 version field says v2",
    "version-4": "its X.509 version field says v4",
    "duplicate-extension": "the extension 2.5.29.17 appears twice",
}


def unreadable_anchor(kind: str) -> bytes:
    """The PEM of a self-signed CA certificate broken as ``kind`` (a key of UNREADABLE_ANCHORS) says."""
    if kind == "duplicate-extension":
        return make_cert("Broken CA", ca=True, sans=["broken.example"], duplicate_san=True).pem
    if kind == "teletex-subject":
        der = _teletex_root("QQQQ")
        return der_to_pem(der.replace(b"QQQQ", b"\xff\xfe\xfd\xfc"))
    der = make_ca("QQQQ CA").der
    patched = {
        "subject-not-utf8": der.replace(b"QQQQ", b"\xff\xfe\xfd\xfc"),
        # The version field [0] INTEGER: v3 is 2; v2 (1) is obsolete, v4 (3) does not exist.
        "version-2": der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x01", 1),
        "version-4": der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x03", 1),
    }[kind]
    assert patched != der, kind
    return der_to_pem(patched)


def _teletex_root(cn: str) -> bytes:
    key = make_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=_ASN1Type.T61String)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def with_broken_signature(issued: Issued) -> Issued:
    """``issued`` with one bit of its signature flipped: correctly issued, then damaged (same key, so servable).

    The signature is a certificate's last field, so its last byte is the DER's last byte.
    """
    der = issued.der[:-1] + bytes([issued.der[-1] ^ 0x01])
    return Issued(x509.load_der_x509_certificate(der), issued.key, der)
