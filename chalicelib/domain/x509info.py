"""Reading the facts certwatch needs out of an X.509 certificate."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import warnings

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, mldsa, rsa
from cryptography.utils import CryptographyDeprecationWarning

from chalicelib.domain.addresses import address_text
from chalicelib.domain.algorithms import POST_QUANTUM_OIDS
from chalicelib.domain.models import CertificateInfo

# What cryptography warns about while it reads a certificate is data about that certificate, which
# a server or a caller chose (RFC 5280 wants a positive serial and name attributes of set lengths;
# old roots and private CAs break both): the verdict says what matters to a client, and stderr and
# the Lambda's log are no place for it.
CERTIFICATE_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (CryptographyDeprecationWarning, "Parsed a serial number which wasn't positive"),
    (UserWarning, "Attribute's length must be"),
)


def quiet_certificate_warnings() -> None:
    """Keep CERTIFICATE_WARNINGS out of this process's output (calling it again changes nothing).

    One process-wide filter rather than a catch_warnings block around each parse: cryptography
    warns lazily (about the serial each time it is read, about a name when it is first read), on
    the checker's threads, and catch_warnings swaps the process's one filter list, which is not
    thread-safe. The filters name the two messages, so any other warning still shows.
    """
    for category, message in CERTIFICATE_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=category)


# The code that reads certificates (analysis, revocation, the inventory's IAM reader) imports this module.
quiet_certificate_warnings()

# Signature algorithms no client should accept any more (collisions are practical).
WEAK_SIGNATURE_OIDS = {
    "1.2.840.113549.1.1.2": "md2WithRSAEncryption",
    "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.3.14.3.2.29": "sha1WithRSAEncryption",
    "1.2.840.10045.4.1": "ecdsa-with-SHA1",
    "1.2.840.10040.4.3": "dsa-with-sha1",
}


def describe(cert: x509.Certificate) -> CertificateInfo:
    """The facts of ``cert``. Raises ValueError (or a subclass) when a needed part is malformed."""
    key_type, key_size = key_facts(cert)
    dns_names, ip_addresses = subject_alt_names(cert)
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        sans=dns_names,
        ip_sans=ip_addresses,
        key_type=key_type,
        key_size=key_size,
        signature_algorithm=signature_algorithm_name(cert),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca(cert),
        self_issued=cert.issuer == cert.subject,
    )


def subject_alt_names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The DNS names and the IP addresses of the subjectAltName extension, each in certificate order."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return (), ()
    dns_names = tuple(ext.value.get_values_for_type(x509.DNSName))
    ip_addresses = tuple(
        address_text(ip) if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address) else str(ip)  # a network
        for ip in ext.value.get_values_for_type(x509.IPAddress)
    )
    return dns_names, ip_addresses


def key_facts(cert: x509.Certificate) -> tuple[str, int]:
    """The public key's type and size in bits (the curve size for EC; the public key's own for ML-DSA).

    An ML-DSA (RFC 9881) or SLH-DSA (RFC 9909) key is named by its parameter set (``ML-DSA-65``);
    an SLH-DSA key, which cryptography does not load, has size 0.
    """
    post_quantum = POST_QUANTUM_OIDS.get(cert.public_key_algorithm_oid.dotted_string)
    if post_quantum is not None:
        try:
            key = cert.public_key()
        except UnsupportedAlgorithm:
            return post_quantum, 0
        if isinstance(key, mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey):
            return post_quantum, 8 * len(key.public_bytes_raw())
        return post_quantum, 0
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, 0


def signature_algorithm_name(cert: x509.Certificate) -> str:
    """cryptography's short name of the signature algorithm (``ML-DSA-65`` too), an SLH-DSA parameter set's
    name, else the dotted OID."""
    oid = cert.signature_algorithm_oid
    name = oid._name  # noqa: SLF001 - cryptography's own short name, the one users recognise
    if name == "Unknown OID":
        return POST_QUANTUM_OIDS.get(oid.dotted_string, oid.dotted_string)
    return name


def is_ca(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return ext.value.ca


_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


def split_bundle(data: bytes) -> list[bytes]:
    """The certificates of a PEM or DER bundle as DER, in file order, without parsing them.

    A block that is not valid base64 or DER is kept as it is, so that judging the chain names
    it (CERTIFICATE_UNPARSEABLE) instead of dropping it.
    """
    if b"-----BEGIN" in data:
        blocks = []
        for match in _PEM_BLOCK.finditer(data):
            try:
                blocks.append(base64.b64decode(b"".join(match.group(1).split()), validate=True))
            except binascii.Error:
                blocks.append(match.group(1))
        return blocks
    return _split_der(data)


_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----")


def not_a_bundle(data: bytes) -> str | None:
    """What ``data`` holds instead of a certificate ("holds text", "is empty", ...); None when it holds one.

    A PEM CERTIFICATE block, or binary data that starts as DER does (a SEQUENCE), counts as a
    certificate even when it does not parse: judging the chain then names what is wrong with it.
    """
    if _PEM_BLOCK.search(data):
        return None
    labels = list(dict.fromkeys(label.decode() for label in _PEM_LABEL.findall(data)))
    if labels:
        return f"holds a PEM {labels[0]} block" if len(labels) == 1 else f"holds PEM blocks {', '.join(labels)}"
    if not data.strip():
        return "is empty"
    try:
        text = data.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "holds text"
    return None if data[0] == 0x30 else "holds binary data that is not DER"


def _split_der(data: bytes) -> list[bytes]:
    """Concatenated DER certificates (each a SEQUENCE) split apart; the rest kept whole when malformed."""
    out, rest = [], data
    while rest:
        size = _der_size(rest)
        if size is None or size > len(rest):
            out.append(rest)
            break
        out.append(rest[:size])
        rest = rest[size:]
    return out


def _der_size(data: bytes) -> int | None:
    if len(data) < 2 or data[0] != 0x30:
        return None
    first = data[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4 or len(data) < 2 + count:
        return None
    return 2 + count + int.from_bytes(data[2 : 2 + count], "big")


def signature_valid(
    key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None, *, pss: bool = False
) -> bool:
    """Whether ``key`` made ``signature`` over ``data`` (RSA PKCS#1 v1.5 or PSS, ECDSA, DSA, EdDSA)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        elif algorithm is None:
            return False
        elif isinstance(key, rsa.RSAPublicKey):
            scheme = padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO) if pss else padding.PKCS1v15()
            key.verify(signature, data, scheme, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, data, algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True
