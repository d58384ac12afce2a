"""An address's crypto posture: what its key exchange is made of, and what the posture policy says of it.

A TLS key exchange group is classical (ECDH on a curve, finite-field DH), post-quantum (ML-KEM,
NIST FIPS 203) or a hybrid of both (the IETF's draft-ietf-tls-ecdhe-mlkem, which browsers and the
big CDNs negotiate by default: X25519MLKEM768, TLS group 0x11EC). A session whose key exchange is
classical can be recorded now and decrypted once a quantum computer breaks it ("harvest now,
decrypt later"); a hybrid one holds while either part holds. Names are OpenSSL's, as the handshake
reports them; a name not listed here is said as unknown, never guessed at.
"""

from __future__ import annotations

import enum

from chalicelib.domain.algorithms import Primitive, group_algorithm, hybrid_group
from chalicelib.domain.models import Finding, FindingCode, PosturePolicy, Severity


class KeyExchange(enum.StrEnum):
    """What a negotiated key exchange group is made of."""

    HYBRID_POST_QUANTUM = "hybrid post-quantum"
    POST_QUANTUM = "post-quantum"
    CLASSICAL = "classical"
    UNKNOWN = "unknown"


# How the legacy versions read in a message (OpenSSL's names are TLSv1 and TLSv1.1).
_SPOKEN = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1"}


def key_exchange(group: str | None) -> KeyExchange | None:
    """The class of a key exchange group named as OpenSSL names it (by the algorithms' catalogue); None
    when no group is named."""
    if not group:
        return None
    primitive = group_algorithm(group).primitive
    if primitive is Primitive.KEM:
        return KeyExchange.HYBRID_POST_QUANTUM if hybrid_group(group) else KeyExchange.POST_QUANTUM
    if primitive is Primitive.KEY_AGREE:
        return KeyExchange.CLASSICAL
    return KeyExchange.UNKNOWN


def posture_findings(
    *, tls_version: str | None, group: str | None, legacy_tls: tuple[str, ...] | None, policy: PosturePolicy
) -> tuple[Finding, ...]:
    """What the posture policy says of one address's handshake; nothing when no handshake completed.

    NO_POST_QUANTUM_KEY_EXCHANGE when the key exchange is classical, or no group was negotiated
    at all (TLS 1.2's RSA key transport): a warning where the policy requires post-quantum key
    exchange, info where it asks classical ones noted, else nothing; an unknown group says nothing.
    LEGACY_TLS_ACCEPTED (warning) when the legacy probe ran and the address accepted TLS 1.0 or 1.1.
    """
    if tls_version is None:
        return ()
    found: list[Finding] = []
    kind = key_exchange(group)
    judged = policy.require_post_quantum or policy.note_classical
    if judged and (kind is None or kind is KeyExchange.CLASSICAL):
        what = f"{group}, a classical key exchange" if group else "no key exchange group (RSA key transport)"
        required = "; the policy requires one" if policy.require_post_quantum else ""
        found.append(
            Finding(
                FindingCode.NO_POST_QUANTUM_KEY_EXCHANGE,
                Severity.WARNING if policy.require_post_quantum else Severity.INFO,
                f"the handshake ({tls_version}) negotiated {what}: a recorded session can be decrypted once "
                f"quantum computers break it; a server offering X25519MLKEM768 (TLS 1.3) avoids that{required}",
            )
        )
    if legacy_tls:
        versions = " and ".join(_SPOKEN.get(v, v) for v in legacy_tls)
        found.append(
            Finding(
                FindingCode.LEGACY_TLS_ACCEPTED,
                Severity.WARNING,
                f"the server still completes a handshake offering only {versions}, which RFC 8996 deprecates: "
                "turn them off (TLS 1.2 and 1.3 only)",
            )
        )
    return tuple(found)
