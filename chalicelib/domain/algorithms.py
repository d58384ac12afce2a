"""The algorithms a certificate depends on, and what each is worth against a quantum computer.

A catalogue from what ``CertificateInfo`` says (its key's type and size, its signature algorithm's
name as ``x509info`` reads it) to each algorithm's facts: its name, its primitive (CycloneDX's
words: signature, pke, kem, key-agree, hash), its parameter set, its OID and its NIST security
category against a quantum computer (``nist_quantum_level``, CycloneDX's
``nistQuantumSecurityLevel``): 0 for RSA, ECDSA, EdDSA and DSA, which Shor's algorithm breaks
whatever their size; ML-DSA-44/65/87 (FIPS 204) 2/3/5 and SLH-DSA (FIPS 205) 1/3/5 by their
parameter sets; the hashes by the collision search NIST's categories are defined with (SHA-256 2,
SHA-384 4, SHA-512 5; MD5 and SHA-1 0). Pure: no parsing, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Primitive(enum.StrEnum):
    """What an algorithm does, in CycloneDX's words (``algorithmProperties.primitive``)."""

    SIGNATURE = "signature"
    PKE = "pke"
    KEM = "kem"
    KEY_AGREE = "key-agree"
    HASH = "hash"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Algorithm:
    """An algorithm a certificate or a handshake depends on."""

    name: str
    primitive: Primitive
    parameter_set: str | None
    curve: str | None
    oid: str | None
    # NIST's security category against a quantum computer (0: broken by one; None: not known here).
    nist_quantum_level: int | None

    @property
    def quantum_vulnerable(self) -> bool:
        return self.nist_quantum_level == 0


@dataclass(frozen=True, slots=True)
class CertificateAlgorithms:
    """What one certificate is made of: its public key's algorithm, the signature its issuer made, and its hash."""

    key: Algorithm
    signature: Algorithm
    hash: Algorithm | None  # None for a signature that hashes nothing apart (EdDSA, ML-DSA) or is not known


RSA_OID = "1.2.840.113549.1.1.1"
EC_OID = "1.2.840.10045.2.1"

# Curves by the names cryptography (and ACM) gives them: NIST's name where it has one.
_CURVES = {
    "secp256r1": "P-256",
    "prime256v1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
    "secp224r1": "P-224",
    "secp192r1": "P-192",
    "prime192v1": "P-192",
    "secp256k1": "secp256k1",
    "brainpoolP256r1": "brainpoolP256r1",
    "brainpoolP384r1": "brainpoolP384r1",
    "brainpoolP512r1": "brainpoolP512r1",
}

_SEC_NAMES = {"prime256v1": "secp256r1", "prime192v1": "secp192r1"}  # ANSI X9.62's names of SEC 2's curves

# FIPS 204 (ML-DSA) and FIPS 205 (SLH-DSA): parameter set -> (OID, NIST category). RFC 9881 and
# RFC 9909 name the same OIDs for certificates.
ML_DSA = {
    "ML-DSA-44": ("2.16.840.1.101.3.4.3.17", 2),
    "ML-DSA-65": ("2.16.840.1.101.3.4.3.18", 3),
    "ML-DSA-87": ("2.16.840.1.101.3.4.3.19", 5),
}
SLH_DSA = {
    f"SLH-DSA-{hash_}-{size}{speed}": (f"2.16.840.1.101.3.4.3.{20 + index}", {"128": 1, "192": 3, "256": 5}[size])
    for index, (hash_, size, speed) in enumerate(
        (h, s, v) for h in ("SHA2", "SHAKE") for s in ("128", "192", "256") for v in ("s", "f")
    )
}
POST_QUANTUM_OIDS = {oid: name for name, (oid, _) in (ML_DSA | SLH_DSA).items()}

# Hashes: name -> (OID, NIST category of the collision search it costs).
_HASHES = {
    "MD2": ("1.2.840.113549.2.2", 0),
    "MD5": ("1.2.840.113549.2.5", 0),
    "SHA-1": ("1.3.14.3.2.26", 0),
    "SHA-224": ("2.16.840.1.101.3.4.2.4", 1),
    "SHA-256": ("2.16.840.1.101.3.4.2.1", 2),
    "SHA-384": ("2.16.840.1.101.3.4.2.2", 4),
    "SHA-512": ("2.16.840.1.101.3.4.2.3", 5),
    "SHA3-224": ("2.16.840.1.101.3.4.2.7", 1),
    "SHA3-256": ("2.16.840.1.101.3.4.2.8", 2),
    "SHA3-384": ("2.16.840.1.101.3.4.2.9", 4),
    "SHA3-512": ("2.16.840.1.101.3.4.2.10", 5),
}


# Signature algorithms by the names x509info gives them (cryptography's short names, else the
# dotted OID): the key family that signs, the hash, and the OID.
_SIGNATURES: dict[str, tuple[str, str | None, str]] = {
    "md2WithRSAEncryption": ("RSA", "MD2", "1.2.840.113549.1.1.2"),
    "md5WithRSAEncryption": ("RSA", "MD5", "1.2.840.113549.1.1.4"),
    "sha1WithRSAEncryption": ("RSA", "SHA-1", "1.2.840.113549.1.1.5"),
    "1.3.14.3.2.29": ("RSA", "SHA-1", "1.3.14.3.2.29"),
    "sha224WithRSAEncryption": ("RSA", "SHA-224", "1.2.840.113549.1.1.14"),
    "sha256WithRSAEncryption": ("RSA", "SHA-256", "1.2.840.113549.1.1.11"),
    "sha384WithRSAEncryption": ("RSA", "SHA-384", "1.2.840.113549.1.1.12"),
    "sha512WithRSAEncryption": ("RSA", "SHA-512", "1.2.840.113549.1.1.13"),
    # RSASSA-PSS names its hash in its parameters, which a certificate's facts do not keep.
    "rsassaPss": ("RSA", None, "1.2.840.113549.1.1.10"),
    "2.16.840.1.101.3.4.3.13": ("RSA", "SHA3-224", "2.16.840.1.101.3.4.3.13"),
    "2.16.840.1.101.3.4.3.14": ("RSA", "SHA3-256", "2.16.840.1.101.3.4.3.14"),
    "2.16.840.1.101.3.4.3.15": ("RSA", "SHA3-384", "2.16.840.1.101.3.4.3.15"),
    "2.16.840.1.101.3.4.3.16": ("RSA", "SHA3-512", "2.16.840.1.101.3.4.3.16"),
    "ecdsa-with-SHA1": ("ECDSA", "SHA-1", "1.2.840.10045.4.1"),
    "ecdsa-with-SHA224": ("ECDSA", "SHA-224", "1.2.840.10045.4.3.1"),
    "ecdsa-with-SHA256": ("ECDSA", "SHA-256", "1.2.840.10045.4.3.2"),
    "ecdsa-with-SHA384": ("ECDSA", "SHA-384", "1.2.840.10045.4.3.3"),
    "ecdsa-with-SHA512": ("ECDSA", "SHA-512", "1.2.840.10045.4.3.4"),
    "2.16.840.1.101.3.4.3.9": ("ECDSA", "SHA3-224", "2.16.840.1.101.3.4.3.9"),
    "2.16.840.1.101.3.4.3.10": ("ECDSA", "SHA3-256", "2.16.840.1.101.3.4.3.10"),
    "2.16.840.1.101.3.4.3.11": ("ECDSA", "SHA3-384", "2.16.840.1.101.3.4.3.11"),
    "2.16.840.1.101.3.4.3.12": ("ECDSA", "SHA3-512", "2.16.840.1.101.3.4.3.12"),
    "ed25519": ("EdDSA", None, "1.3.101.112"),
    "ed448": ("EdDSA", None, "1.3.101.113"),
    "dsa-with-sha1": ("DSA", "SHA-1", "1.2.840.10040.4.3"),
    "dsa-with-sha224": ("DSA", "SHA-224", "2.16.840.1.101.3.4.3.1"),
    "dsa-with-sha256": ("DSA", "SHA-256", "2.16.840.1.101.3.4.3.2"),
}


def hash_algorithm(name: str) -> Algorithm:
    """A hash by its FIPS name (SHA-256, SHA3-384, ...)."""
    oid, level = _HASHES[name]
    return Algorithm(name, Primitive.HASH, name.rpartition("-")[2], None, oid, level)


def signature_algorithm(name: str) -> Algorithm:
    """The signature algorithm x509info names ``name`` (``sha256WithRSAEncryption``, ``ML-DSA-65``, ...)."""
    post_quantum = POST_QUANTUM_OIDS.get(name, name)
    if post_quantum in ML_DSA or post_quantum in SLH_DSA:
        oid, level = (ML_DSA | SLH_DSA)[post_quantum]
        return Algorithm(post_quantum, Primitive.SIGNATURE, post_quantum, None, oid, level)
    known = _SIGNATURES.get(name)
    if known is None:
        return Algorithm(name or "unknown", Primitive.SIGNATURE, None, None, _oid_in(name), None)
    return Algorithm(name, Primitive.SIGNATURE, None, None, known[2], 0)


def signature_hash(name: str) -> Algorithm | None:
    """The hash the signature algorithm ``name`` signs (None: it hashes nothing apart, or is not known)."""
    known = _SIGNATURES.get(name)
    return None if known is None or known[1] is None else hash_algorithm(known[1])


def key_algorithm(key_type: str, key_size: int) -> Algorithm:
    """A public key's algorithm, from ``CertificateInfo``'s key_type (``RSA``, ``EC-secp256r1``, ``ML-DSA-65``, ...)."""
    family, _, curve = key_type.partition("-")
    if family == "RSA":
        return Algorithm(f"RSA-{key_size}", Primitive.PKE, str(key_size), None, RSA_OID, 0)
    if family == "EC":
        nist = _CURVES.get(curve) or (f"P-{key_size}" if key_size else None)
        name = f"ECDSA-{nist.replace('-', '')}" if nist else "ECDSA"
        curve = _SEC_NAMES.get(curve, curve)  # one algorithm whoever named its curve
        return Algorithm(name, Primitive.SIGNATURE, nist, curve or None, EC_OID, 0)
    if key_type in ("Ed25519", "Ed448"):
        oid = "1.3.101.112" if key_type == "Ed25519" else "1.3.101.113"
        return Algorithm(key_type, Primitive.SIGNATURE, key_type, None, oid, 0)
    if family == "DSA":
        return Algorithm(f"DSA-{key_size}", Primitive.SIGNATURE, str(key_size), None, "1.2.840.10040.4.1", 0)
    if key_type in ML_DSA or key_type in SLH_DSA:
        oid, level = (ML_DSA | SLH_DSA)[key_type]
        return Algorithm(key_type, Primitive.SIGNATURE, key_type, None, oid, level)
    return Algorithm(key_type or "unknown", Primitive.UNKNOWN, None, None, _oid_in(key_type), None)


def certificate_algorithms(key_type: str, key_size: int, signature: str) -> CertificateAlgorithms:
    """What a certificate with these facts is made of (``CertificateInfo.algorithms``)."""
    return CertificateAlgorithms(
        key=key_algorithm(key_type, key_size),
        signature=signature_algorithm(signature),
        hash=signature_hash(signature),
    )


def _oid_in(name: str) -> str | None:
    """``name`` when it is a dotted OID (what x509info gives for an algorithm cryptography does not name)."""
    parts = name.split(".")
    return name if len(parts) > 2 and all(part.isdigit() for part in parts) else None


# TLS key exchange groups (the IANA names, which OpenSSL gives): the ML-KEM part of a hybrid sets
# its level (FIPS 203: ML-KEM-512/768/1024 are categories 1/3/5); a classical group is 0.
_ML_KEM = {
    "MLKEM512": ("2.16.840.1.101.3.4.4.1", 1),
    "MLKEM768": ("2.16.840.1.101.3.4.4.2", 3),
    "MLKEM1024": ("2.16.840.1.101.3.4.4.3", 5),
}
_HYBRID_GROUPS = {"X25519MLKEM768": 3, "SECP256R1MLKEM768": 3, "SECP384R1MLKEM1024": 5}
_CLASSICAL_GROUPS: dict[str, tuple[str | None, str | None]] = {
    "X25519": ("1.3.101.110", None),
    "X448": ("1.3.101.111", None),
    "SECP256R1": (None, "P-256"),
    "PRIME256V1": (None, "P-256"),
    "P-256": (None, "P-256"),
    "SECP384R1": (None, "P-384"),
    "P-384": (None, "P-384"),
    "SECP521R1": (None, "P-521"),
    "P-521": (None, "P-521"),
}


def group_algorithm(name: str) -> Algorithm:
    """A TLS key exchange group by its name (``X25519MLKEM768``, ``x25519``, ``secp256r1``, ``ffdhe2048``, ...)."""
    upper = name.upper()
    if upper in _HYBRID_GROUPS:
        return Algorithm(name, Primitive.KEM, name, None, None, _HYBRID_GROUPS[upper])
    if upper in _ML_KEM:
        oid, level = _ML_KEM[upper]
        return Algorithm(name, Primitive.KEM, f"ML-KEM-{upper[5:]}", None, oid, level)
    if upper in _CLASSICAL_GROUPS:
        group_oid, curve = _CLASSICAL_GROUPS[upper]
        return Algorithm(name, Primitive.KEY_AGREE, curve or name, None, group_oid, 0)
    if "MLKEM" in upper:  # a hybrid or parameter set not listed: what it is made of is not known
        return Algorithm(name, Primitive.UNKNOWN, None, None, None, None)
    if upper.startswith("FFDHE"):
        return Algorithm(name, Primitive.KEY_AGREE, upper[5:], None, None, 0)
    if upper.startswith(("SECP", "BRAINPOOLP")):  # the other named curves: classical ECDH
        return Algorithm(name, Primitive.KEY_AGREE, name, None, None, 0)
    return Algorithm(name, Primitive.UNKNOWN, None, None, None, None)


def hybrid_group(name: str) -> bool:
    """Whether a TLS key exchange group is a hybrid of a classical one and ML-KEM (``X25519MLKEM768``)."""
    return name.upper() in _HYBRID_GROUPS
