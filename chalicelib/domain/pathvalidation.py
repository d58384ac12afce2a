"""Would a TLS client build a valid path for this chain? pyca/cryptography's verifier decides.

The verifier (``cryptography.x509.verification``) builds paths with backtracking and enforces
name constraints, extended key usage, key usage, pathLen and critical extensions; it is tested
against x509-limbo upstream. certwatch asks it one question — is there a valid path from the
leaf to a trust anchor for this name at this time — and judges the rest itself (``analysis``).

Two profiles:

- *strict*: the CA/Browser Forum's, as pyca applies it. Every chain is judged by it first.
- *private*: for chains that end at a team's own CA (``ca_bundle``, ``--ca-file``). Internal CAs
  often break rules of the public CAs' profile that OpenSSL and browsers with that root
  installed do not enforce: a missing authority or subject key identifier (or one without a
  key identifier), a CA without keyUsage, a non-critical basicConstraints. The private profile
  drops exactly those and keeps the rest: a CA must assert cA, keyUsage (when present) must
  allow certificate signing, extended key usage must allow serverAuth, name constraints,
  pathLen, unknown critical extensions, validity, signatures, extension criticality.

A verdict at ``now`` that fails only because a certificate is outside its validity period is
retried at a moment inside the leaf's validity, so the path the client would use is still
known and the expired certificate on it can be named.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from chalicelib.domain.truststore import TrustStore


@dataclass(frozen=True, slots=True)
class PathVerdict:
    """What the verifier made of a chain.

    ``path`` is the path a client would build (leaf first, anchor last), empty when there is
    none; ``refusal`` is the verifier's reason when it refuses the chain at the time asked
    (a path may still be given: one valid at another time); ``broken_rule`` is the strict
    profile's reason for a chain that only the private profile accepts.
    """

    path: tuple[x509.Certificate, ...]
    refusal: str | None = None
    broken_rule: str | None = None


def verify_path(
    leaf: x509.Certificate,
    intermediates: tuple[x509.Certificate, ...],
    *,
    subject: str | None,
    now: datetime,
    trust: TrustStore,
    max_depth: int | None = None,
) -> PathVerdict:
    """Verify ``leaf`` with what the server sent for ``subject`` (a DNS name or IP address) at ``now``.

    ``subject`` None verifies the path alone (no name): certwatch judges names itself. The
    answer for the same chain, name and trust store is reused within the same minute.
    """
    return _verify_cached(leaf, intermediates, subject, _Moment(now), trust, max_depth)


@dataclass(frozen=True, slots=True)
class _Moment:
    """A time that compares by its minute: the cache's key, so an answer is reused within the minute."""

    at: datetime = field(compare=False)
    minute: datetime = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "minute", self.at.replace(second=0, microsecond=0))


@functools.lru_cache(maxsize=4096)
def _verify_cached(
    leaf: x509.Certificate,
    intermediates: tuple[x509.Certificate, ...],
    subject: str | None,
    moment: _Moment,
    trust: TrustStore,
    max_depth: int | None,
) -> PathVerdict:
    now = moment.at
    everything, private = trust.verifier_store, trust.private_store
    if everything is None:
        return PathVerdict((), refusal="no trust anchor is configured")
    attempt = functools.partial(_attempt, leaf, list(intermediates), subject, max_depth)
    path, refusal = attempt(everything, _STRICT, now)
    if path:
        return PathVerdict(path)
    if private is not None:
        relaxed, _ = attempt(private, _PRIVATE, now)
        if relaxed:
            return PathVerdict(relaxed, broken_rule=refusal)
    if _TIME.search(refusal):
        for other in _other_moments(leaf, now):
            shifted, reason = attempt(everything, _STRICT, other)
            if not shifted and private is not None:
                shifted, _ = attempt(private, _PRIVATE, other)
            if shifted:
                return PathVerdict(shifted, refusal=refusal)
            if not _TIME.search(reason):
                return PathVerdict((), refusal=reason)  # the real obstacle, once time is set aside
    return PathVerdict((), refusal=refusal)


def plain_reason(reason: str, chain: Sequence[x509.Certificate] = ()) -> str:
    """The verifier's reason without its prefix and object dumps, naming the certificate it was at.

    A broken extension rule names the extension and the certificate ("the root CN=X has no
    keyUsage extension, ..."): ``chain`` (leaf first, anchor last) tells which one it is when the
    verifier does not say, and whether it is the leaf, an intermediate or the root.
    """
    text = reason.removeprefix("validation failed: ").removeprefix("candidates exhausted: ")
    text = text.removeprefix("fatal error: ")
    at = _AT.search(text)
    subject = None if at is None else at.group(1)
    if at is not None:
        text = text[: at.start()].rstrip()
    rule = _EXTENSION_RULE.fullmatch(text)
    if rule is not None:
        return _extension_rule(ObjectIdentifier(rule.group(1)), rule.group(2), subject, chain)
    if subject is not None:
        text += f" (at {subject or 'a certificate with an empty subject'})"
    return _RUST_DEBUG.sub("", text).strip()


def _extension_rule(
    oid: ObjectIdentifier, complaint: str, subject: str | None, chain: Sequence[x509.Certificate]
) -> str:
    """pyca's "invalid extension: <oid>: <complaint>" as a sentence about the certificate and the extension."""
    # cryptography's own name for the extension (RFC 5280's: keyUsage), the one its repr shows.
    known = oid._name  # noqa: SLF001
    name = known if known != "Unknown OID" else oid.dotted_string
    if subject is not None:
        at = next((c for c in chain if c.subject.rfc4514_string() == subject), None)
    else:  # unnamed: the verifier was judging an issuer, a CA of the chain (never the leaf)
        suspects = [c for c in chain[1:] if _breaks(c, oid, complaint)]
        at = suspects[0] if len(suspects) == 1 else None
    if at is not None:
        who = f"{_role(at, chain)} {at.subject.rfc4514_string() or '(with an empty subject)'}"
    elif subject is not None:
        who = f"the certificate {subject or '(with an empty subject)'}"
    else:
        who = "a CA of the chain"
    if complaint == _MISSING:
        return f"{who} has no {name} extension, which the CA/Browser Forum requires"
    if complaint == _PROHIBITED:
        return f"{who} has a {name} extension, which the CA/Browser Forum forbids there"
    if complaint == _CRITICALITY:
        critical = None if at is None else _extension(at, oid)
        if critical is None:
            return (
                f"{who} marks its {name} extension critical where the CA/Browser Forum forbids it, "
                "or not where it requires it"
            )
        if critical.critical:
            return f"{who} marks its {name} extension critical, which the CA/Browser Forum forbids"
        return f"{who} does not mark its {name} extension critical, which the CA/Browser Forum requires"
    if "unaccounted-for critical extension" in complaint:
        return f"{who} marks its {name} extension critical, which clients that do not know it refuse"
    return f"{who}, its {name} extension: {complaint}"


def _role(cert: x509.Certificate, chain: Sequence[x509.Certificate]) -> str:
    if cert == chain[0]:
        return "the leaf"
    if cert == chain[-1] and cert.subject == cert.issuer:
        return "the root"
    return "the intermediate"


def _extension(cert: x509.Certificate, oid: ObjectIdentifier) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except Exception:  # absent, or unreadable: the verifier read it, certwatch need not
        return None


def _breaks(cert: x509.Certificate, oid: ObjectIdentifier, complaint: str) -> bool:
    """Whether ``cert`` can be the certificate pyca's extension complaint is about."""
    present = _extension(cert, oid) is not None
    return not present if complaint == _MISSING else present


# pyca's messages end with "(encountered processing <Certificate(subject=<Name(CN=x)>, ...)>)".
_AT = re.compile(r"\(encountered processing <Certificate\(subject=<Name\((.*?)\)>.*$", re.DOTALL)
# ... and a broken extension rule reads "invalid extension: 2.5.29.15: Certificate is missing required extension".
_EXTENSION_RULE = re.compile(r"invalid extension: (\d+(?:\.\d+)+): (.+)", re.DOTALL)
_MISSING = "Certificate is missing required extension"
_PROHIBITED = "Certificate contains prohibited extension"
_CRITICALITY = "Certificate extension has incorrect criticality"
# ... and some quote Rust debug output: "Forbidden public key algorithm: AlgorithmIdentifier { ... }".
_RUST_DEBUG = re.compile(r":? ?[A-Z][A-Za-z]+ \{.*\}", re.DOTALL)
_TIME = re.compile(r"not valid at validation time")


def _attempt(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    subject: str | None,
    max_depth: int | None,
    store: Store,
    profile: _Profile,
    moment: datetime,
) -> tuple[tuple[x509.Certificate, ...], str]:
    """The path the verifier builds and "", or no path and the verifier's reason."""
    builder = PolicyBuilder().store(store).time(moment)
    if max_depth is not None:
        builder = builder.max_chain_depth(max_depth)
    try:
        if subject is None:
            builder = builder.extension_policies(ca_policy=profile.ca, ee_policy=profile.nameless_ee)
            return tuple(builder.build_client_verifier().verify(leaf, intermediates).chain), ""
        if profile.ee is not None:
            builder = builder.extension_policies(ca_policy=profile.ca, ee_policy=profile.ee)
        return tuple(builder.build_server_verifier(_general_name(subject)).verify(leaf, intermediates)), ""
    except VerificationError as exc:
        return (), str(exc)
    except ValueError as exc:  # pyca refuses to build a verifier (a malformed name, say)
        return (), f"the certificate cannot be verified: {exc}"


def _general_name(subject: str) -> x509.DNSName | x509.IPAddress:
    try:
        return x509.IPAddress(ipaddress.ip_address(subject))
    except ValueError:
        return x509.DNSName(subject)


def _other_moments(leaf: x509.Certificate, now: datetime) -> list[datetime]:
    """Moments inside the leaf's validity at which its CAs were most likely valid too."""
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    candidates = [min(max(now, start), end), start + timedelta(minutes=1), start + (end - start) / 2]
    return [m for i, m in enumerate(candidates) if m != now and m not in candidates[:i] and start <= m <= end]


def _server_auth(policy: Any, cert: x509.Certificate, usage: x509.ExtendedKeyUsage | None) -> None:
    if usage is None:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in usage and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usage:
        raise ValueError("required EKU not found")


def _must_be_ca(policy: Any, cert: x509.Certificate, constraints: x509.BasicConstraints) -> None:
    if not constraints.ca:
        raise ValueError("basicConstraints.cA must be asserted in a CA certificate")


def _may_sign_certificates(policy: Any, cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("keyUsage.keyCertSign must be asserted in a CA certificate")


@dataclass(frozen=True)
class _Profile:
    ca: ExtensionPolicy
    ee: ExtensionPolicy | None  # None: pyca's own defaults for a server verifier
    nameless_ee: ExtensionPolicy


_ANY = Criticality.AGNOSTIC
_STRICT = _Profile(
    ca=ExtensionPolicy.webpki_defaults_ca(),
    ee=None,
    # A client verifier asks for clientAuth; certwatch judges server certificates without a name.
    nameless_ee=ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, _server_auth)
    .may_be_present(x509.SubjectAlternativeName, _ANY, None),
)
_PRIVATE_EE = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None
)
_PRIVATE = _Profile(
    ca=ExtensionPolicy.webpki_defaults_ca()
    .require_present(x509.BasicConstraints, _ANY, _must_be_ca)
    .may_be_present(x509.KeyUsage, _ANY, _may_sign_certificates)
    .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
    .may_be_present(x509.SubjectKeyIdentifier, Criticality.NON_CRITICAL, None),
    ee=_PRIVATE_EE,
    nameless_ee=_PRIVATE_EE.may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, _server_auth
    ).may_be_present(x509.SubjectAlternativeName, _ANY, None),
)
