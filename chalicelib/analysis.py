"""What is wrong with a served certificate chain: the findings, apart from any network.

Trust, hostname and validity are judged separately, so a chain with several problems gets a
finding for each (an expired certificate for the wrong name is EXPIRED *and* HOSTNAME_MISMATCH,
where a verifying TLS client would only report its first error).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa

from chalicelib.hostnames import covers
from chalicelib.models import CertificateInfo, CheckPolicy, Finding, FindingCode, Severity
from chalicelib.truststore import TrustStore
from chalicelib.x509info import WEAK_SIGNATURE_OIDS, describe

# Chains longer than this are refused by some clients and are almost always a misconfiguration.
MAX_SANE_CHAIN = 10
# Never parse more than this many certificates of one handshake (a hostile server may send many).
MAX_PARSED_CHAIN = 100
MIN_KEY_BITS = {"RSA": 2048, "DSA": 2048, "EC": 256}


@dataclass(frozen=True, slots=True)
class ChainAnalysis:
    """The facts and findings of one served chain."""

    leaf: CertificateInfo | None
    chain: tuple[CertificateInfo, ...]
    trusted_by: str | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True, eq=False)
class _Parsed:
    cert: x509.Certificate
    info: CertificateInfo


def analyze_chain(
    served: list[bytes],
    *,
    name: str,
    now: datetime,
    trust: TrustStore,
    policy: CheckPolicy,
) -> ChainAnalysis:
    """Judge the DER certificates a server sent (leaf first) for ``name`` at ``now``."""
    findings: list[Finding] = []
    if not served:
        return ChainAnalysis(None, (), None, (_unparseable("the server sent no certificate"),))
    if len(served) > MAX_SANE_CHAIN:
        findings.append(
            Finding(
                FindingCode.CHAIN_TOO_LONG,
                Severity.WARNING,
                f"the server sends {len(served)} certificates; more than {MAX_SANE_CHAIN} is a "
                "misconfiguration and some clients refuse it",
            )
        )
    parsed: list[_Parsed] = []
    for position, der in enumerate(served[:MAX_PARSED_CHAIN]):
        try:
            parsed.append(_parse(der))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            if position == 0:
                findings.append(_unparseable(f"the server's certificate cannot be parsed: {exc}"))
                return ChainAnalysis(None, (), None, tuple(findings))
            findings.append(
                _unparseable(f"certificate {position + 1} of the chain cannot be parsed: {exc}", Severity.WARNING)
            )
    leaf, sent = parsed[0], parsed[1:]
    findings += _validity(leaf.info, now, policy)
    if not covers(leaf.info.sans, name, leaf.info.ip_sans):
        findings.append(_hostname_mismatch(leaf.info, name))
    anchor, trust_findings = _build_path(leaf, sent, trust)
    findings += trust_findings
    findings += _intermediates_expiry(sent, now, policy)
    findings += _weaknesses([leaf, *(p for p in sent if not p.info.self_issued)])
    return ChainAnalysis(
        leaf=leaf.info,
        chain=tuple(p.info for p in sent),
        trusted_by=None if anchor is None else anchor.subject.rfc4514_string(),
        findings=tuple(findings),
    )


def _validity(leaf: CertificateInfo, now: datetime, policy: CheckPolicy) -> list[Finding]:
    left = leaf.not_after - now
    expiry = f"{leaf.not_after:%Y-%m-%d %H:%M} UTC"
    if now < leaf.not_before:
        found = [
            Finding(
                FindingCode.NOT_YET_VALID,
                Severity.CRITICAL,
                f"the certificate is not valid before {leaf.not_before:%Y-%m-%d %H:%M} UTC",
            )
        ]
    else:
        found = []
    if left < timedelta(0):  # RFC 5280: notAfter itself is still inside the validity period
        found.append(Finding(FindingCode.EXPIRED, Severity.CRITICAL, f"the certificate expired on {expiry}"))
        return found
    in_words = _in_days(left)
    if left <= timedelta(days=policy.critical_days):
        found.append(
            Finding(
                FindingCode.EXPIRING_SOON,
                Severity.CRITICAL,
                f"the certificate expires {in_words} ({expiry}; critical at {policy.critical_days} days)",
            )
        )
    elif left <= timedelta(days=policy.warn_days):
        found.append(
            Finding(
                FindingCode.EXPIRING_SOON,
                Severity.WARNING,
                f"the certificate expires {in_words} ({expiry}; warning at {policy.warn_days} days)",
            )
        )
    lifetime = leaf.lifetime
    if lifetime > timedelta(0) and left < lifetime / 3:
        found.append(
            Finding(
                FindingCode.RENEWAL_OVERDUE,
                Severity.WARNING,
                f"{left.days} of the certificate's {lifetime.days} days are left, under a third; "
                "automated renewal normally happens at two thirds, so it may have failed",
            )
        )
    return found


def _hostname_mismatch(leaf: CertificateInfo, name: str) -> Finding:
    names = leaf.sans + leaf.ip_sans
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        message = f"{name} is not covered by the certificate's names: {shown}"
    else:
        message = f"{name} is not covered: the certificate has no subjectAltName (subject {leaf.subject})"
    return Finding(FindingCode.HOSTNAME_MISMATCH, Severity.CRITICAL, message)


def _build_path(leaf: _Parsed, sent: list[_Parsed], trust: TrustStore) -> tuple[x509.Certificate | None, list[Finding]]:
    """Walk from the leaf to a trust anchor through what the server sent.

    Returns the anchor, or the finding that says why none was reached.
    """
    path = [leaf]
    current = leaf
    while len(path) <= MAX_PARSED_CHAIN:
        if trust.contains(bytes.fromhex(current.info.fingerprint_sha256)):
            return current.cert, []
        for anchor in trust.issuers_named(current.cert.issuer):
            if _signed_by(current.cert, anchor):
                return anchor, []
        if current.info.self_issued and _signed_by(current.cert, current.cert):
            if current is leaf:
                return None, [
                    Finding(
                        FindingCode.SELF_SIGNED,
                        Severity.CRITICAL,
                        "the certificate is self-signed and not a trusted anchor "
                        "(pass its PEM as a CA file to trust it)",
                    )
                ]
            return None, [_untrusted(current.info.subject)]
        issuer = next(
            (
                p
                for p in sent
                if p not in path
                and p.cert.subject == current.cert.issuer
                and p.info.is_ca
                and _signed_by(current.cert, p.cert)
            ),
            None,
        )
        if issuer is None:
            break
        path.append(issuer)
        current = issuer
    if current is leaf:
        return None, [
            Finding(
                FindingCode.INCOMPLETE_CHAIN,
                Severity.CRITICAL,
                f"the server does not send the intermediate certificate that issued it "
                f"({leaf.info.issuer}), and no trusted root did; clients without that intermediate "
                "cannot verify it (a private CA's root belongs in a CA file)",
            )
        ]
    return None, [_untrusted(current.info.issuer)]


def _untrusted(root: str) -> Finding:
    return Finding(
        FindingCode.UNTRUSTED_ROOT,
        Severity.CRITICAL,
        f"the chain leads to {root}, which is not a trusted root (for an internal CA, pass its root as a CA file)",
    )


@functools.lru_cache(maxsize=2048)
def _parse(der: bytes) -> _Parsed:
    """Parse and describe a certificate once: repeated checks see the same leaves and intermediates."""
    cert = x509.load_der_x509_certificate(der)
    return _Parsed(cert, describe(cert))


@functools.lru_cache(maxsize=4096)
def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``cert`` (names match and the signature verifies)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    except ValueError:
        # A name mismatch, or a hash the strict verifier refuses (SHA-1, MD5): those chains are
        # still followed, so the weak signature is named once (WEAK_SIGNATURE), not as a break.
        return cert.issuer == issuer.subject and _legacy_signature_valid(cert, issuer)
    return True


def _legacy_signature_valid(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    try:
        algorithm = cert.signature_hash_algorithm
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _intermediates_expiry(sent: list[_Parsed], now: datetime, policy: CheckPolicy) -> list[Finding]:
    found = []
    for item in sent:
        info = item.info
        if info.self_issued:
            continue  # a root the server sends is ignored by clients; the trust store's copy counts
        left = info.not_after - now
        when = f"{info.not_after:%Y-%m-%d}"
        if left < timedelta(0):
            found.append(
                Finding(FindingCode.CHAIN_EXPIRING, Severity.CRITICAL, f"intermediate {info.subject} expired on {when}")
            )
        elif left <= timedelta(days=policy.warn_days):
            severity = Severity.CRITICAL if left <= timedelta(days=policy.critical_days) else Severity.WARNING
            found.append(
                Finding(
                    FindingCode.CHAIN_EXPIRING,
                    severity,
                    f"intermediate {info.subject} expires {_in_days(left)} ({when})",
                )
            )
    return found


def _weaknesses(certs: list[_Parsed]) -> list[Finding]:
    found = []
    for position, item in enumerate(certs):
        info = item.info
        which = "the certificate" if position == 0 else f"intermediate {info.subject}"
        family = info.key_type.split("-")[0]
        minimum = MIN_KEY_BITS.get(family)
        if minimum is not None and info.key_size < minimum:
            found.append(
                Finding(
                    FindingCode.WEAK_KEY,
                    Severity.CRITICAL,
                    f"{which} has a {info.key_size}-bit {family} key (minimum {minimum})",
                )
            )
        weak = WEAK_SIGNATURE_OIDS.get(item.cert.signature_algorithm_oid.dotted_string)
        if weak is not None:
            found.append(Finding(FindingCode.WEAK_SIGNATURE, Severity.CRITICAL, f"{which} is signed with {weak}"))
    return found


def _unparseable(message: str, severity: Severity = Severity.CRITICAL) -> Finding:
    return Finding(FindingCode.CERTIFICATE_UNPARSEABLE, severity, message)


def _in_days(left: timedelta) -> str:
    days = left // timedelta(days=1)
    if days >= 1:
        return f"in {days} day{'s' if days != 1 else ''}"
    hours = left // timedelta(hours=1)
    return f"in {hours} hour{'s' if hours != 1 else ''}" if hours >= 1 else "in under an hour"
