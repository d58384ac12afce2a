"""Minting certificates for tests, the bench and the demo: any validity, names, key, hash or chain shape.

``make_cert`` covers what ``cryptography`` builds directly; SHA-1/MD5 signatures and a zero or
negative serial number (which cryptography refuses to produce) and a non-DER encoding that
strict parsers reject are assembled by hand from the builder's TBS bytes.
"""

from __future__ import annotations

import ipaddress
import itertools
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | mldsa.MLDSA44PrivateKey
    | mldsa.MLDSA65PrivateKey
    | mldsa.MLDSA87PrivateKey
)

_serials = itertools.count(1000)
_RSA_SIGNATURE_OIDS = {
    "sha256": bytes.fromhex("06092a864886f70d01010b0500"),
    "sha1": bytes.fromhex("06092a864886f70d0101050500"),
    "md5": bytes.fromhex("06092a864886f70d0101040500"),
}
_LEGACY_HASHES: dict[str, hashes.HashAlgorithm] = {"sha1": hashes.SHA1(), "md5": hashes.MD5()}
_PLACEHOLDER_OID = x509.ObjectIdentifier("1.2.840")
_PLACEHOLDER_OID_DER = bytes.fromhex("06032a8648")
_SAN_OID_DER = bytes.fromhex("0603551d11")


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey
    der: bytes

    @property
    def pem(self) -> bytes:
        return der_to_pem(self.der)

    @property
    def key_pem(self) -> bytes:
        return key_to_pem(self.key)

    @property
    def fingerprint(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex()


def make_key(kind: str = "ec256") -> PrivateKey:
    """A fresh key: ``ec256``, ``ec384``, ``rsa1024``, ``rsa2048``, ``rsa4096``, ``ed25519`` or ``mldsa44/65/87``."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "mldsa44":
        return mldsa.MLDSA44PrivateKey.generate()
    if kind == "mldsa65":
        return mldsa.MLDSA65PrivateKey.generate()
    if kind == "mldsa87":
        return mldsa.MLDSA87PrivateKey.generate()
    raise ValueError(f"unknown key kind {kind!r}")


def make_cert(
    cn: str = "test.example",
    *,
    sans: tuple[str, ...] | list[str] | None = None,
    issuer: Issued | None = None,
    key: PrivateKey | str = "ec256",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    now: datetime | None = None,
    days: float = 90,
    ca: bool = False,
    hash_name: str = "sha256",
    aia_url: str | None = None,
    ber_boolean: bool = False,
    path_length: int | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    duplicate_san: bool = False,
    key_identifiers: bool = True,
    serial: int | None = None,
    country: str | None = None,
) -> Issued:
    """Mint a certificate (self-signed when ``issuer`` is None).

    Validity defaults to one day ago until ``days`` from ``now``. ``sans`` defaults to ``[cn]``
    for leaves and none for CAs; entries that parse as IP addresses become iPAddress names.
    ``hash_name`` ``sha1``/``md5`` (RSA issuers only) yields a legacy signature;
    ``ber_boolean`` encodes the basicConstraints critical flag as BER ``01`` instead of DER
    ``FF``, which OpenSSL accepts and strict parsers (cryptography) refuse. ``extensions`` are
    added as given (extension, critical); ``duplicate_san`` puts the subjectAltName extension in
    twice, which RFC 5280 forbids and cryptography refuses to read (DuplicateExtension).
    ``key_identifiers`` False leaves out the subject and authority key identifiers. ``serial``
    sets the serial number, zero or negative included (RFC 5280 wants it positive; old roots and
    some private CAs break that, and cryptography only warns when it parses one). ``country``
    adds a countryName to the subject, of any length (cryptography warns about one that is not
    two letters long each time it reads the subject).
    """
    now = now or datetime.now(UTC)
    private = make_key(key) if isinstance(key, str) else key
    not_before = not_before or now - timedelta(days=1)
    not_after = not_after or now + timedelta(days=days)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if country is not None:
        with warnings.catch_warnings():  # any length, on purpose
            warnings.simplefilter("ignore", UserWarning)
            attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country, _validate=False))
    subject = x509.Name(attributes)
    signer = issuer.key if issuer else private
    issuer_name = issuer.cert.subject if issuer else subject
    names = list(sans) if sans is not None else ([] if ca else [cn])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(private.public_key())
        .serial_number(serial if serial is not None and serial > 0 else next(_serials))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    )
    if key_identifiers:  # as every CA tool adds them; some internal CAs' certificates lack them
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
    if aia_url:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    if duplicate_san:
        if not names:
            raise ValueError("duplicate_san needs a subjectAltName")
        copy = x509.SubjectAlternativeName([_general_name(n) for n in names]).public_bytes()
        builder = builder.add_extension(x509.UnrecognizedExtension(_PLACEHOLDER_OID, copy), critical=False)
    hashed = isinstance(signer, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    algorithm = hashes.SHA256() if hashed else None
    cert = builder.sign(signer, algorithm)
    odd_serial = serial is not None and serial <= 0
    if hash_name == "sha256" and not ber_boolean and not duplicate_san and not odd_serial:
        return Issued(cert, private, cert.public_bytes(serialization.Encoding.DER))
    return _resign(cert, private, signer, hash_name, ber_boolean, duplicate_san, serial if odd_serial else None)


def make_ca(cn: str = "Test Root CA", *, issuer: Issued | None = None, days: float = 3650, **kwargs: Any) -> Issued:
    """A CA certificate: a root when ``issuer`` is None, else an intermediate.

    Valid since five years before ``now`` unless ``not_before`` is given: a CA predates what it
    issues, and verifiers check every CA's dates.
    """
    if kwargs.get("not_before") is None:
        kwargs["not_before"] = (kwargs.get("now") or datetime.now(UTC)) - timedelta(days=5 * 365)
    return make_cert(cn, issuer=issuer, ca=True, days=days, **kwargs)


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def der_to_pem(der: bytes) -> bytes:
    return ssl.DER_cert_to_PEM_cert(der).encode("ascii")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _resign(
    cert: x509.Certificate,
    private: PrivateKey,
    signer: PrivateKey,
    hash_name: str,
    ber: bool,
    duplicate: bool = False,
    serial: int | None = None,
) -> Issued:
    tbs = cert.tbs_certificate_bytes
    if serial is not None:
        tbs = _with_serial(tbs, cert.serial_number, serial)
    if duplicate:
        # The placeholder's OID has the same encoded length as subjectAltName's: swap it in place.
        tbs = tbs.replace(_PLACEHOLDER_OID_DER, _SAN_OID_DER, 1)
    if ber:
        if tbs.count(b"\x01\x01\xff") != 1:
            raise ValueError("cannot find the one critical flag to re-encode")
        tbs = tbs.replace(b"\x01\x01\xff", b"\x01\x01\x01")
    if hash_name == "sha256":
        if isinstance(signer, rsa.RSAPrivateKey):
            algorithm_id = _RSA_SIGNATURE_OIDS["sha256"]
            signature = signer.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(signer, ec.EllipticCurvePrivateKey):
            algorithm_id = bytes.fromhex("06082a8648ce3d040302")
            signature = signer.sign(tbs, ec.ECDSA(hashes.SHA256()))
        else:
            raise ValueError("re-signing supports RSA and EC issuers")
    else:
        if not isinstance(signer, rsa.RSAPrivateKey):
            raise ValueError(f"{hash_name} signatures are minted with RSA issuers only")
        algorithm_id = _RSA_SIGNATURE_OIDS[hash_name]
        tbs = tbs.replace(_RSA_SIGNATURE_OIDS["sha256"], algorithm_id, 1)
        signature = signer.sign(tbs, padding.PKCS1v15(), _LEGACY_HASHES[hash_name])
    der = _tlv(0x30, tbs + _tlv(0x30, algorithm_id) + _tlv(0x03, b"\x00" + signature))
    if ber or duplicate:  # cryptography refuses to read either
        return Issued(cert, private, der)
    with warnings.catch_warnings():  # a serial that is not positive, on purpose
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return Issued(x509.load_der_x509_certificate(der), private, der)


def _with_serial(tbs: bytes, old: int, new: int) -> bytes:
    """The TBS certificate with its serial number (just after the version) swapped for ``new``."""
    header = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)
    version = bytes.fromhex("a003020102")
    was = _tlv(0x02, old.to_bytes(old.bit_length() // 8 + 1, "big", signed=True))
    content = tbs[header:]
    if not content.startswith(version + was):
        raise ValueError("cannot find the serial number to replace")
    now = _tlv(0x02, new.to_bytes((new + (new < 0)).bit_length() // 8 + 1, "big", signed=True))
    return _tlv(0x30, version + now + content[len(version + was) :])


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content
