"""What is wrong with a served certificate chain: the findings, apart from any network.

Whether a client would trust the chain is decided by pyca/cryptography's verifier
(``pathvalidation``); certwatch judges the rest itself and names every problem at once (an
expired certificate for the wrong name from an untrusted CA is EXPIRED *and* HOSTNAME_MISMATCH
*and* UNTRUSTED_ROOT, where a verifying TLS client would only report its first error). Expiry,
weak keys and weak signatures are judged on the path the verifier built, the trust anchor
included; certificates the server sends but the path does not use matter at most as a warning.

Nothing a server sends can raise out of ``analyze_chain``: any failure while parsing or judging
becomes a finding on that chain.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from chalicelib.domain.hostnames import covers
from chalicelib.domain.lifetime import lifetime_finding
from chalicelib.domain.models import (
    CertificateInfo,
    CheckPolicy,
    CheckResult,
    Finding,
    FindingCode,
    PosturePolicy,
    Severity,
    status_for,
)
from chalicelib.domain.pathvalidation import PathVerdict, plain_reason, verify_path
from chalicelib.domain.posture import posture_findings
from chalicelib.domain.truststore import TrustStore
from chalicelib.domain.x509info import WEAK_SIGNATURE_OIDS, describe, signature_valid

logger = logging.getLogger(__name__)

# Chains longer than this are refused by some clients and are almost always a misconfiguration.
MAX_SANE_CHAIN = 10
# The first certificate, whether a server sent it or a file (`certwatch inspect`) holds it.
_LEAF = "the leaf, the first certificate of the chain,"
# Never parse more than this many certificates of one handshake (a hostile server may send many).
MAX_PARSED_CHAIN = 100
MIN_KEY_BITS = {"RSA": 2048, "DSA": 2048, "EC": 256}
# The curves browsers accept in certificates (the CA/Browser Forum's list).
WEB_CURVES = {"secp256r1", "secp384r1", "secp521r1"}
C, W = Severity.CRITICAL, Severity.WARNING


@dataclass(frozen=True, slots=True)
class ChainAnalysis:
    """The facts and findings of one served chain."""

    leaf: CertificateInfo | None
    chain: tuple[CertificateInfo, ...]
    trusted_by: str | None
    findings: tuple[Finding, ...]
    # The path a client builds (leaf first, anchor last; empty when none): each certificate's
    # issuer is the next one, which is what revocation checking needs.
    path: tuple[x509.Certificate, ...] = ()
    publicly_trusted: bool = False  # the path ends at a public root (not a team's own CA)
    # The path's facts when a client verifying the checked name accepts it (empty otherwise).
    verified: tuple[CertificateInfo, ...] = ()

    def result(
        self,
        checked_at: datetime,
        *,
        address: str | None = None,
        tls_version: str | None = None,
        cipher: str | None = None,
        group: str | None = None,
        legacy_tls: tuple[str, ...] | None = None,
        posture: PosturePolicy | None = None,
        elapsed_ms: float = 0.0,
    ) -> CheckResult:
        """The check result this analysis amounts to (an address's, or a file's with no address).

        ``posture``: the policy an address's handshake is judged by (none for a file: it had no handshake).
        """
        findings = self.findings
        if posture is not None:
            findings += posture_findings(tls_version=tls_version, group=group, legacy_tls=legacy_tls, policy=posture)
        return CheckResult(
            address=address,
            status=status_for(findings),
            checked_at=checked_at,
            findings=findings,
            leaf=self.leaf,
            chain=self.chain,
            trusted_by=self.trusted_by,
            publicly_trusted=self.publicly_trusted,
            tls_version=tls_version,
            cipher=cipher,
            group=group,
            elapsed_ms=elapsed_ms,
            verified_chain=self.verified,
            legacy_tls=legacy_tls,
        )


@dataclass(frozen=True, slots=True, eq=False)
class _Parsed:
    cert: x509.Certificate
    info: CertificateInfo


def analyze_chain(
    served: list[bytes],
    *,
    name: str | None,
    now: datetime,
    trust: TrustStore,
    policy: CheckPolicy,
    max_depth: int | None = None,
) -> ChainAnalysis:
    """Judge the DER certificates a server sent (leaf first) for ``name`` at ``now``; never raises.

    ``name`` None judges the chain without a name (``certwatch inspect`` without ``--name``).
    ``max_depth`` limits the path length as a client's configuration would (None: pyca's default).
    """
    try:
        return _analyze(served, name, now, trust, policy, max_depth)
    except Exception as exc:  # hostile input must cost one finding on this chain, never the batch
        logger.warning("analysing a served chain failed: %r", exc)
        return ChainAnalysis(None, (), None, (_unparseable(f"the certificate chain cannot be analysed: {_why(exc)}"),))


def _analyze(
    served: list[bytes], name: str | None, now: datetime, trust: TrustStore, policy: CheckPolicy, max_depth: int | None
) -> ChainAnalysis:
    findings: list[Finding] = []
    # Certificates carry whole seconds: within the second of notAfter, a certificate is still valid.
    # What is left is counted from the moment itself, as a result's days_left counts it.
    moment, now = now, now.replace(microsecond=0)
    if not served:
        return ChainAnalysis(None, (), None, (_unparseable("the server sent no certificate"),))
    if len(served) > MAX_SANE_CHAIN:
        findings.append(
            Finding(
                FindingCode.CHAIN_TOO_LONG,
                W,
                f"the server sends {len(served)} certificates; more than {MAX_SANE_CHAIN} is a "
                "misconfiguration and some clients refuse it",
            )
        )
    parsed: list[_Parsed] = []
    broken: list[int] = []  # positions (1-based) of the certificates that cannot be parsed
    for position, der in enumerate(served[:MAX_PARSED_CHAIN]):
        try:
            parsed.append(_parse(der))
        except Exception as exc:  # DuplicateExtension, ValueError, ...: whatever a parser raises
            if position == 0:
                findings.append(_unparseable(f"{_LEAF} cannot be parsed: {_why(exc)}"))
                return ChainAnalysis(None, (), None, tuple(findings))
            findings.append(_unparseable(f"certificate {position + 1} of the chain cannot be parsed: {_why(exc)}", W))
            broken.append(position + 1)
    leaf, sent = parsed[0], parsed[1:]
    findings += _validity(leaf.info, now, policy, moment)
    covered = name is not None and covers(leaf.info.sans, name, leaf.info.ip_sans)
    if name is not None and not covered:
        findings.append(_hostname_mismatch(leaf.info, name))
    verdict = verify_path(
        leaf.cert,
        tuple(p.cert for p in sent),
        subject=name if covered else _covered_name(leaf.info),
        now=now,
        trust=trust,
        max_depth=max_depth,
    )
    if verdict.path and _in_sent_order(verdict.path, sent):
        walk = _Walk([leaf], verdict.path[-1], None)  # what a non-backtracking client builds too
    else:  # signatures were checked by the verifier when it built a path: the walk then compares names
        walk = _walk(leaf, sent, trust, now, broken, signatures=not verdict.path)
    if verdict.path:
        path = [leaf]
        for cert in verdict.path[1:]:
            try:
                path.append(_known(cert, sent))
            except Exception as exc:  # an anchor only the verifier could read: name it
                what = cert.subject.rfc4514_string()
                findings.append(_unparseable(f"the trust anchor {what} of the path cannot be read: {_why(exc)}"))
        anchor: x509.Certificate | None = verdict.path[-1]
    else:  # no path a client accepts: judge what the server's chain leads to, and its anchor if any
        path = [p for p in walk.path if not (p is not leaf and p.info.self_issued)]
        anchor = walk.anchor
        if anchor is not None and not trust.contains(bytes.fromhex(path[-1].info.fingerprint_sha256)):
            path.append(_known(anchor, sent))
    findings += _path_expiry(path[1:], now, policy, anchored=anchor is not None)
    if verdict.path:
        findings += _unused(sent, path, now)
    findings += _weaknesses(path)
    findings += filter(None, [_quantum_vulnerable([p.info for p in path], policy, now)])
    findings += _trust(verdict, walk, findings, name is not None)
    findings += filter(None, [_key_usage(leaf)])
    name_ok = name is None or covered
    public = bool(verdict.path) and verdict.broken_rule is None and trust.is_public(verdict.path[-1])
    if public:  # the CA/Browser Forum's lifetime limits bind public CAs, not a team's own
        findings += filter(None, [lifetime_finding(leaf.info)])
    return ChainAnalysis(
        leaf=leaf.info,
        chain=tuple(p.info for p in sent),
        trusted_by=None if anchor is None else anchor.subject.rfc4514_string(),
        findings=tuple(findings),
        path=verdict.path,
        publicly_trusted=public,
        # A refused chain's path may be one valid at another time, or built for another name.
        verified=tuple(p.info for p in path) if verdict.path and not verdict.refusal and name_ok else (),
    )


def _in_sent_order(path: tuple[x509.Certificate, ...], sent: list[_Parsed]) -> bool:
    """Whether the path's intermediates are the first certificates sent, in the order sent."""
    middle = path[1:-1]
    return len(middle) <= len(sent) and all(cert == item.cert for cert, item in zip(middle, sent, strict=False))


def _covered_name(leaf: CertificateInfo) -> str | None:
    """A name the leaf covers, to verify its path for when the name checked is not one.

    Names are judged by ``covers``; the verifier answers for the path (name constraints apply
    to every name of the leaf either way). None when the leaf names no DNS name or address.
    """
    for san in leaf.sans:
        candidate = "certwatch" + san[1:] if san.startswith("*.") else san
        if covers(leaf.sans, candidate):
            return candidate
    return leaf.ip_sans[0] if leaf.ip_sans else None


def _known(cert: x509.Certificate, sent: list[_Parsed]) -> _Parsed:
    """The parsed form of a certificate of the path (an anchor is described once per process)."""
    for item in sent:
        if item.cert == cert:
            return item
    return _anchor(cert)


@functools.lru_cache(maxsize=1024)
def _anchor(cert: x509.Certificate) -> _Parsed:
    return _describe(cert)


# What the verifier's refusal means, in the order its reasons are tested.
_REFUSALS: tuple[tuple[str, FindingCode, str], ...] = (
    ("subjectAltName", FindingCode.HOSTNAME_MISMATCH, "the certificate does not cover the name for TLS clients"),
    ("name constraint", FindingCode.NAME_CONSTRAINTS_VIOLATED, "a CA of the chain may not issue for these names"),
    ("EKU", FindingCode.NOT_FOR_SERVER_AUTH, "the certificate's extended key usage does not allow TLS servers"),
    ("path length constraint", FindingCode.PATH_LENGTH_EXCEEDED, "the path is longer than a CA's pathLen allows"),
    (
        "unaccounted-for critical extensions",
        FindingCode.UNKNOWN_CRITICAL_EXTENSION,
        "a certificate of the chain has a critical extension that clients do not know and must refuse",
    ),
    (
        "cA must not be asserted in an EE",
        FindingCode.CA_CERTIFICATE_AS_LEAF,
        "the leaf {leaf} is a CA certificate (basicConstraints cA): browsers refuse a CA certificate as a server's",
    ),
)


def _trust(verdict: PathVerdict, walk: _Walk, found: list[Finding], named: bool) -> list[Finding]:
    """What the verifier's verdict and the non-backtracking walk add to the findings judged so far."""
    extra = []
    chain = verdict.path or _walked(walk)
    if verdict.broken_rule is not None:
        extra.append(
            Finding(
                FindingCode.NOT_WEB_PKI_COMPLIANT,
                W,
                f"the chain breaks a rule for public CAs: {plain_reason(verdict.broken_rule, chain)}; "
                f"accepted because it ends at your own CA {verdict.path[-1].subject.rfc4514_string()}, as OpenSSL "
                "and browsers with that root installed accept it",
            )
        )
    if verdict.path and walk.problem is not None:
        extra.append(
            Finding(
                FindingCode.PATH_BUILDING_REQUIRED,
                W,
                "a valid path exists only by skipping certificates the server sends first "
                f"({walk.problem.message}); clients that do not build paths (OpenSSL's default among them) "
                "fail where browsers succeed: send the chain of the valid path, in order",
            )
        )
    reason = verdict.refusal
    if reason is None:
        return extra
    codes = {f.code for f in found}
    for marker, code, meaning in _REFUSALS:
        if marker in reason and code not in codes and (named or code is not FindingCode.HOSTNAME_MISMATCH):
            if "{leaf}" in meaning:  # the meaning says all the verifier's words would
                message = meaning.format(leaf=walk.path[0].info.subject)
            else:
                message = f"{meaning}: {plain_reason(reason, chain)}"
            extra.append(Finding(code, C, message))
    if not verdict.path and walk.problem is not None:
        extra.append(walk.problem)  # no issuer, a wrong one, an untrusted root: the walk says which
    elif "exceeds max depth" in reason and not extra:
        extra.append(
            Finding(
                FindingCode.PATH_LENGTH_EXCEEDED,
                C,
                f"the path is longer than clients accept: {plain_reason(reason, chain)}",
            )
        )
    if any(f.severity is C for f in [*found, *extra]):
        return extra  # refused for a reason named (an expired certificate, a weak key, ...)
    return [
        *extra,
        Finding(FindingCode.PATH_VALIDATION_FAILED, C, f"TLS clients refuse the chain: {plain_reason(reason, chain)}"),
    ]


def _walked(walk: _Walk) -> tuple[x509.Certificate, ...]:
    """The certificates of the walk's path, leaf first, and the anchor it reached."""
    walked = tuple(p.cert for p in walk.path)
    return walked if walk.anchor is None or walk.anchor in walked else (*walked, walk.anchor)


@dataclass(frozen=True, slots=True)
class _Walk:
    path: list[_Parsed]
    anchor: x509.Certificate | None
    problem: Finding | None


def _walk(
    leaf: _Parsed, sent: list[_Parsed], trust: TrustStore, now: datetime, broken: list[int], *, signatures: bool
) -> _Walk:
    """The path a client that never backtracks builds (OpenSSL's default chain building).

    At each step: the trust store, else the first certificate sent whose subject is the issuer
    (preferring one valid now): that path, the anchor it reaches or, when none, why. Without
    ``signatures``, an issuer is recognised by its name and key identifier alone.
    """
    signed_by = _signed_by if signatures else _same_key_id
    path = [leaf]
    current = leaf
    while len(path) <= MAX_PARSED_CHAIN:
        if trust.contains(bytes.fromhex(current.info.fingerprint_sha256)):
            return _Walk(path, current.cert, None)
        anchors = trust.issuers_named(current.cert.issuer)
        for anchor in anchors:
            if signed_by(current.cert, anchor):
                return _Walk(path, anchor, None)
        if current.info.self_issued and signed_by(current.cert, current.cert):
            if current is leaf:
                return _Walk(
                    path,
                    None,
                    Finding(
                        FindingCode.SELF_SIGNED,
                        C,
                        "the certificate is self-signed and not a trusted anchor "
                        "(pass its PEM as a CA file to trust it)",
                    ),
                )
            return _Walk(path, None, _untrusted(current.info.subject))
        named = [p for p in sent if p not in path and p.cert.subject == current.cert.issuer]
        if not named:
            # The trusted root it names (by name and key identifier) did not sign it: its signature is broken.
            named_anchor = next((a for a in anchors if _same_key_id(current.cert, a)), None)
            if named_anchor is not None:
                return _Walk(path, None, _bad_signature(current, named_anchor, leaf=current is leaf, anchor=True))
            break
        keyed = [p for p in named if _same_key_id(current.cert, p.cert)]
        if not keyed:
            subject = named[0].info.subject
            return _Walk(
                path, None, _invalid(f"{subject}, sent as the issuer, has another key than the one that signed it")
            )
        named = keyed
        issuer = next((p for p in named if p.info.not_before <= now <= p.info.not_after), named[0])
        if not issuer.info.is_ca:
            return _Walk(path, None, _invalid(f"{issuer.info.subject}, sent as the issuer, is not a CA certificate"))
        if not signed_by(current.cert, issuer.cert):
            if any(signed_by(current.cert, p.cert) for p in named):  # the signature is sound: X is the wrong one
                which = issuer.info.subject
                return _Walk(
                    path, None, _invalid(f"the key of {which}, sent as the issuer, did not sign it (another did)")
                )
            return _Walk(path, None, _bad_signature(current, issuer.cert, leaf=current is leaf, anchor=False))
        path.append(issuer)
        current = issuer
    if current is leaf:
        if broken:
            which = ", ".join(str(n) for n in broken)
            return _Walk(
                path, None, _invalid(f"certificate {which} of the chain cannot be parsed, and nothing else issued it")
            )
        return _Walk(
            path,
            None,
            Finding(
                FindingCode.INCOMPLETE_CHAIN,
                C,
                f"the server does not send the intermediate certificate that issued it "
                f"({leaf.info.issuer}), and no trusted root did; clients without that intermediate "
                "cannot verify it (a private CA's root belongs in a CA file)",
            ),
        )
    return _Walk(path, None, _untrusted(current.info.issuer))


def _same_key_id(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` is named as the issuer: subject, and key identifier when both carry one."""
    if cert.issuer != issuer.subject:
        return False
    wanted, offered = _key_id(cert, x509.AuthorityKeyIdentifier), _key_id(issuer, x509.SubjectKeyIdentifier)
    return wanted is None or offered is None or wanted == offered


@functools.lru_cache(maxsize=4096)
def _key_id(
    cert: x509.Certificate, kind: type[x509.AuthorityKeyIdentifier] | type[x509.SubjectKeyIdentifier]
) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):  # an anchor's malformed extensions are read here first
        return None
    return value.key_identifier if isinstance(value, x509.AuthorityKeyIdentifier) else value.digest


def _invalid(message: str) -> Finding:
    return Finding(
        FindingCode.INVALID_INTERMEDIATE,
        C,
        f"the server sends no usable intermediate: {message}",
    )


def _bad_signature(cert: _Parsed, issuer: x509.Certificate, *, leaf: bool, anchor: bool) -> Finding:
    """A certificate whose issuer is found by name and key identifier, but whose signature its key does not verify.

    OpenSSL calls it "certificate signature failure": the certificate was damaged or altered
    after the CA signed it. Without key identifiers to tell, the issuer may also be another CA
    of the same name.
    """
    which = "the server's certificate" if leaf else f"intermediate {cert.info.subject}"
    named = issuer.subject.rfc4514_string()
    whose = f"the trusted root {named}" if anchor else f"{named} (sent by the server)"
    wanted = _key_id(cert.cert, x509.AuthorityKeyIdentifier)
    identified = wanted is not None and wanted == _key_id(issuer, x509.SubjectKeyIdentifier)
    cause = "damaged or altered" if identified else "damaged or altered, or another CA of that name issued it"
    return Finding(
        FindingCode.BAD_SIGNATURE,
        C,
        f"the signature of {which} does not verify with the key of its issuer, {whose}: the certificate is {cause} "
        '(clients say "certificate signature failure"); install it again as the CA issued it',
    )


def _untrusted(root: str) -> Finding:
    return Finding(
        FindingCode.UNTRUSTED_ROOT,
        C,
        f"the chain leads to {root}, which is not a trusted root (for an internal CA, pass its root as a CA file)",
    )


def _validity(leaf: CertificateInfo, now: datetime, policy: CheckPolicy, moment: datetime) -> list[Finding]:
    """The leaf's own dates at ``now`` (whole seconds); what is left counted from ``moment`` (exact)."""
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
    if leaf.not_after < now:  # RFC 5280: notAfter itself is still inside the validity period
        found.append(Finding(FindingCode.EXPIRED, Severity.CRITICAL, f"the certificate expired on {expiry}"))
        return found
    left = leaf.not_after - moment
    in_words = _in_days(left)
    if _within(left, policy.critical_days):
        found.append(
            Finding(
                FindingCode.EXPIRING_SOON,
                Severity.CRITICAL,
                f"the certificate expires {in_words} ({expiry}; critical at {policy.critical_days} days)",
            )
        )
    elif _within(left, policy.warn_days):
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


@functools.lru_cache(maxsize=2048)
def _parse(der: bytes) -> _Parsed:
    """Parse and describe a certificate once: repeated checks see the same leaves and intermediates."""
    return _describe(x509.load_der_x509_certificate(der))


def _describe(cert: x509.Certificate) -> _Parsed:
    # cryptography parses lazily: reading every extension now makes a malformed one
    # (DuplicateExtension, a bad encoding) fail here, where it is caught, not later.
    len(cert.extensions)
    return _Parsed(cert, describe(cert))


def _why(exc: Exception) -> str:
    """What is wrong, in words, without a parser's internals."""
    if isinstance(exc, x509.DuplicateExtension):
        return f"it holds the extension {exc.oid.dotted_string} twice"
    if isinstance(exc, UnsupportedAlgorithm):
        return "it uses an algorithm this checker does not support"
    if isinstance(exc, ValueError):
        text = str(exc)
        return "it is not a valid DER-encoded X.509 certificate" if "ParseError" in text or "{" in text else text
    return f"{type(exc).__name__}"


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
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return False
    return signature_valid(issuer.public_key(), cert.signature, cert.tbs_certificate_bytes, algorithm)


def _path_expiry(certs: list[_Parsed], now: datetime, policy: CheckPolicy, *, anchored: bool) -> list[Finding]:
    """Expiry of the CA certificates of the path (the anchor last when ``anchored``): all must be valid."""
    found = []
    for position, item in enumerate(certs):
        info = item.info
        is_anchor = anchored and position == len(certs) - 1
        left = info.not_after - now
        if info.not_before <= now and not _within(left, policy.warn_days) and left >= timedelta(0):
            continue  # valid, and not yet within a threshold: the common case, kept cheap
        which = f"the trusted root {info.subject}" if is_anchor else f"intermediate {info.subject}"
        when = f"{info.not_after:%Y-%m-%d}"
        if now < info.not_before:
            found.append(
                Finding(FindingCode.NOT_YET_VALID, C, f"{which} is not valid before {info.not_before:%Y-%m-%d}")
            )
        elif left < timedelta(0):
            found.append(Finding(FindingCode.CHAIN_EXPIRING, C, f"{which} expired on {when}"))
        elif _within(left, policy.warn_days):
            severity = C if _within(left, policy.critical_days) else W
            found.append(Finding(FindingCode.CHAIN_EXPIRING, severity, f"{which} expires {_in_days(left)} ({when})"))
    return found


def _unused(sent: list[_Parsed], path: list[_Parsed], now: datetime) -> list[Finding]:
    """Expired certificates the server sends that the path does not use: a warning, never critical."""
    found = []
    for item in sent:
        info = item.info
        if item in path or info.self_issued or info.not_after >= now:
            continue
        found.append(
            Finding(
                FindingCode.CHAIN_EXPIRING,
                W,
                f"the server also sends {info.subject}, which expired on {info.not_after:%Y-%m-%d}; the valid "
                "path does not use it, but old clients that pick it fail: stop sending it",
            )
        )
    return found


def _weaknesses(path: list[_Parsed]) -> list[Finding]:
    """Weak keys anywhere on the path (the anchor too); weak signatures on all but the anchor."""
    found = []
    for position, item in enumerate(path):
        info = item.info
        which = (
            "the certificate" if position == 0 else f"{'root' if info.self_issued else 'intermediate'} {info.subject}"
        )
        problem = _key_problem(item)
        if problem is not None:
            found.append(Finding(FindingCode.WEAK_KEY, C, f"{which} has {problem}"))
        weak = WEAK_SIGNATURE_OIDS.get(item.cert.signature_algorithm_oid.dotted_string)
        if weak is not None and not info.self_issued:  # nobody checks a root's signature on itself
            found.append(Finding(FindingCode.WEAK_SIGNATURE, C, f"{which} is signed with {weak}"))
    return found


# keyUsage bits by their RFC 5280 names (the ones clients print), with cryptography's attribute.
_USAGE_BITS = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)


def _key_usage(leaf: _Parsed) -> Finding | None:
    """A leaf whose keyUsage does not let its key do what a TLS server's key does: sign the handshake.

    TLS 1.3 and every ECDHE handshake have the server sign with its key (digitalSignature);
    only TLS 1.2's RSA key exchange uses keyEncipherment instead. OpenSSL refuses a leaf with
    none of digitalSignature, keyEncipherment and keyAgreement ("unsuitable certificate
    purpose") and one with no bit at all; browsers and Java also refuse one without
    digitalSignature in every handshake that signs. A CA certificate served as the leaf is
    already named as such (CA_CERTIFICATE_AS_LEAF): its keyUsage is a CA's, the same mistake.
    """
    if leaf.info.is_ca:
        return None
    try:
        usage = leaf.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None  # without keyUsage a key may be used for anything (RFC 5280)
    if usage.digital_signature:
        return None
    bits = [name for attribute, name in _USAGE_BITS if getattr(usage, attribute)]
    if usage.key_agreement:  # cryptography reads these two only beside keyAgreement
        bits += [
            name for name, on in (("encipherOnly", usage.encipher_only), ("decipherOnly", usage.decipher_only)) if on
        ]
    shown = f"the certificate's key usage ({', '.join(bits)})"
    needed = "a server's certificate needs digitalSignature"
    if not bits:
        message = (
            "the certificate's keyUsage extension sets no bit, which RFC 5280 forbids: clients refuse the "
            f"certificate as invalid; {needed}"
        )
    elif not (usage.key_encipherment or usage.key_agreement):
        message = (
            f"{shown} allows no TLS server use: clients refuse it (OpenSSL: unsuitable certificate purpose); {needed}"
        )
    elif leaf.info.key_type == "RSA":
        unless = " unless the server picks TLS 1.2 with RSA key exchange" if usage.key_encipherment else ""
        message = (
            f"{shown} lacks digitalSignature, which TLS 1.3 and ECDHE handshakes need: browsers and Java refuse "
            f"it{unless} (OpenSSL accepts it)"
        )
    else:
        key_type = leaf.info.key_type  # EC-secp256r1 is an EC key; ML-DSA-65 is named whole
        family = key_type if key_type.startswith(("ML-DSA", "SLH-DSA")) else key_type.split("-")[0]
        message = (
            f"{shown} lacks digitalSignature, which its {family} key needs in every TLS handshake: browsers and "
            "Java refuse it, OpenSSL in TLS 1.2"
        )
    return Finding(FindingCode.NOT_FOR_SERVER_AUTH, C, message)


def _key_problem(item: _Parsed) -> str | None:
    info = item.info
    family = info.key_type.split("-")[0]
    if family == "DSA":
        return f"a {info.key_size}-bit DSA key (browsers no longer accept DSA)"
    minimum = MIN_KEY_BITS.get(family)
    if minimum is not None and info.key_size < minimum:
        return f"a {info.key_size}-bit {family} key (minimum {minimum})"
    if family == "RSA" and info.key_size % 8:
        return f"a {info.key_size}-bit RSA key, not a whole number of bytes (forbidden; some clients refuse it)"
    curve = info.key_type.partition("-")[2]
    if family == "EC" and curve not in WEB_CURVES:
        return f"a key on the curve {curve}, which browsers do not accept (P-256, P-384, P-521)"
    return None


def _quantum_vulnerable(path: list[CertificateInfo], policy: CheckPolicy, now: datetime) -> Finding | None:
    """A path signed, or a leaf keyed, with what a quantum computer breaks (RSA, ECDSA, EdDSA), where the
    team's posture policy sets a date for quantum-safe signatures: info before that date, a warning from it.

    The signatures judged are those a client checks (every certificate's but a self-issued root's),
    and the leaf's key, which signs the handshake.
    """
    by = policy.posture.quantum_safe_signatures_by
    if by is None or not path:
        return None
    vulnerable = [
        f"{'the leaf' if position == 0 else info.subject} is signed with {info.algorithms.signature.name}"
        for position, info in enumerate(path)
        if not info.self_issued and info.algorithms.signature.quantum_vulnerable
    ]
    key = path[0].algorithms.key
    if key.quantum_vulnerable:
        vulnerable.append(f"the leaf's key is {key.name}")
    if not vulnerable:
        return None
    due = now.date() >= by
    when = f"since {by:%Y-%m-%d}" if due else f"by {by:%Y-%m-%d}"
    return Finding(
        FindingCode.QUANTUM_VULNERABLE_SIGNATURE,
        W if due else Severity.INFO,
        f"{'; '.join(vulnerable)}: a quantum computer breaks these, and your policy wants quantum-safe signatures "
        f"(ML-DSA, SLH-DSA) {when}",
    )


def _unparseable(message: str, severity: Severity = C) -> Finding:
    return Finding(FindingCode.CERTIFICATE_UNPARSEABLE, severity, message)


def _within(left: timedelta, days: int) -> bool:
    """Whether ``left`` is within a threshold of ``days`` (0 turns the threshold off)."""
    return days > 0 and left <= timedelta(days=days)


def _in_days(left: timedelta) -> str:
    days = left // timedelta(days=1)
    if days >= 1:
        return f"in {days} day{'s' if days != 1 else ''}"
    hours = left // timedelta(hours=1)
    return f"in {hours} hour{'s' if hours != 1 else ''}" if hours >= 1 else "in under an hour"
