"""Is a certificate revoked? Judging a CRL (RFC 5280 6.3) or an OCSP response (RFC 6960) for it.

Pure: the caller fetches, these functions judge bytes against the certificate, its issuer and
``now``. A CRL or response counts only when it is signed by the certificate's issuer (for OCSP,
or by a responder the issuer delegated to with the OCSPSigning EKU, RFC 6960 4.2.2.2), is
current at ``now`` (thisUpdate not ahead, nextUpdate not past) and covers the certificate.
Anything else is UNKNOWN with the reason, never REVOKED: a tampered, stale or foreign answer
must not page anyone.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ExtensionOID

from chalicelib.domain.models import Finding, FindingCode, Revocation, Severity, short_name
from chalicelib.domain.x509info import is_ca, signature_valid

# A CRL or response dated a little ahead of our clock is a clock difference, not a forgery.
CLOCK_SKEW = timedelta(minutes=5)
# An OCSP response without nextUpdate is taken as current for this long after thisUpdate.
OCSP_WITHOUT_NEXT_UPDATE = timedelta(days=4)
# CRL extensions this judgement understands; a critical one outside these makes a CRL unusable.
_KNOWN_CRL_EXTENSIONS = {
    ExtensionOID.CRL_NUMBER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
}


@dataclass(frozen=True, slots=True)
class RevocationVerdict:
    """What one source says of one certificate; ``problem`` says why it says nothing (UNKNOWN)."""

    status: Revocation
    source: str  # "crl" or "ocsp"
    url: str | None = None
    reason: str | None = None
    revoked_at: datetime | None = None
    next_update: datetime | None = None
    problem: str | None = None


def crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The http(s) URLs of the certificate's CRL distribution points, in order."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(
        name.value
        for point in points
        if point.crl_issuer is None  # an indirect CRL's issuer is someone else: not judged here
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier) and name.value.lower().startswith(("http:", "https:"))
    )


def ocsp_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The http(s) OCSP responders of the certificate's Authority Information Access."""
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(
        item.access_location.value
        for item in access
        if item.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(item.access_location, x509.UniformResourceIdentifier)
        and item.access_location.value.lower().startswith(("http:", "https:"))
    )


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from DER or PEM bytes; ValueError when it is neither."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def crl_usable(crl: x509.CertificateRevocationList, issuer: x509.Certificate, now: datetime) -> str | None:
    """Why the CRL cannot be relied on for certificates of ``issuer`` at ``now`` (None: it can)."""
    if crl.issuer != issuer.subject:
        return f"it is issued by {short_name(crl.issuer.rfc4514_string())}, not by {short_name(_name(issuer))}"
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.crl_sign:
        return "its issuer's key usage does not allow signing CRLs (cRLSign)"
    try:
        extensions = list(crl.extensions)
    except ValueError as exc:
        return f"its extensions cannot be read ({exc})"
    ids = {e.oid for e in extensions}
    if ExtensionOID.DELTA_CRL_INDICATOR in ids:
        return "it is a delta CRL (only a complete CRL is judged)"
    if ExtensionOID.CRL_NUMBER not in ids:
        return "it has no CRL number (RFC 5280 5.2.3 requires one)"
    for extension in extensions:
        if extension.oid == ExtensionOID.CRL_NUMBER and extension.critical:
            return "its CRL number is marked critical (RFC 5280 5.2.3 forbids it)"
        if extension.critical and extension.oid not in _KNOWN_CRL_EXTENSIONS:
            return f"it has an unknown critical extension {extension.oid.dotted_string}"
    wanted = _extension(issuer, x509.SubjectKeyIdentifier)
    named = next((e.value for e in extensions if isinstance(e.value, x509.AuthorityKeyIdentifier)), None)
    if wanted is not None and named is not None and named.key_identifier not in (None, wanted.digest):
        return "its authority key identifier names another key of the issuer"
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return "its signature does not verify with the issuer's key (tampered, or another CA's)"
    this_update, next_update = crl.last_update_utc, crl.next_update_utc
    if this_update > now + CLOCK_SKEW:
        return f"it is dated {this_update:%Y-%m-%d %H:%M} UTC, in the future"
    if next_update is None:
        return "it has no nextUpdate (RFC 5280 5.1.2.5 requires one)"
    if next_update < now:
        return f"it is stale: its nextUpdate was {next_update:%Y-%m-%d %H:%M} UTC"
    return None


def judge_crl(
    crl: x509.CertificateRevocationList,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    *,
    url: str | None = None,
) -> RevocationVerdict:
    """What ``crl`` says of ``cert`` (issued by ``issuer``) at ``now``; never raises."""
    try:
        problem = crl_usable(crl, issuer, now)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # hostile input: one UNKNOWN, never a crash
        problem = f"it cannot be read ({exc})"
    if problem is not None:
        return RevocationVerdict(Revocation.UNKNOWN, "crl", url, problem=f"the CRL is not used: {problem}")
    return crl_scope_verdict(crl, cert, url)


def revoked_serials(crl: x509.CertificateRevocationList) -> dict[int, x509.RevokedCertificate]:
    """The CRL's entries by serial number: one pass, so each later lookup is not a scan of the list."""
    return {entry.serial_number: entry for entry in crl}


def crl_scope_verdict(
    crl: x509.CertificateRevocationList,
    cert: x509.Certificate,
    url: str | None,
    revoked: Mapping[int, x509.RevokedCertificate] | None = None,
) -> RevocationVerdict:
    """What a CRL already found usable (``crl_usable``) says of ``cert`` (``revoked``: its entries); never raises."""
    try:
        problem = _scope(crl, cert, url)
        if problem is not None:
            return RevocationVerdict(Revocation.UNKNOWN, "crl", url, problem=f"the CRL is not used: {problem}")
        if revoked is None:
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        else:
            entry = revoked.get(cert.serial_number)
        reason = None if entry is None else _entry_reason(entry)
        if entry is None or reason == "removeFromCRL":  # removeFromCRL means "not revoked" (delta CRLs)
            return RevocationVerdict(Revocation.GOOD, "crl", url, next_update=crl.next_update_utc)
        return RevocationVerdict(
            Revocation.REVOKED,
            "crl",
            url,
            reason=reason,
            revoked_at=entry.revocation_date_utc,
            next_update=crl.next_update_utc,
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return RevocationVerdict(Revocation.UNKNOWN, "crl", url, problem=f"the CRL cannot be read: {exc}")


def judge_crls(
    crls: Sequence[x509.CertificateRevocationList], cert: x509.Certificate, issuer: x509.Certificate, now: datetime
) -> RevocationVerdict | None:
    """The verdict of the first CRL that is ``issuer``'s and says something; None when none is its."""
    verdicts = [judge_crl(crl, cert, issuer, now) for crl in crls if crl.issuer == issuer.subject]
    decided = [v for v in verdicts if v.status is not Revocation.UNKNOWN]
    revoked = [v for v in decided if v.status is Revocation.REVOKED]
    chosen = revoked or decided or verdicts
    return chosen[0] if chosen else None


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """The DER OCSP request for ``cert`` (SHA-1 certificate ID, as every responder understands)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


def judge_ocsp(
    data: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: datetime, *, url: str | None = None
) -> RevocationVerdict:
    """What an OCSP response says of ``cert`` at ``now``, once its signer and freshness check out."""
    try:
        return _judge_ocsp(data, cert, issuer, now, url)
    except Exception as exc:  # whatever a hostile response makes a parser raise: UNKNOWN, never a crash
        return RevocationVerdict(Revocation.UNKNOWN, "ocsp", url, problem=f"the OCSP response cannot be read: {exc}")


def _judge_ocsp(
    data: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: datetime, url: str | None
) -> RevocationVerdict:
    def unknown(problem: str) -> RevocationVerdict:
        return RevocationVerdict(Revocation.UNKNOWN, "ocsp", url, problem=f"the OCSP response is not used: {problem}")

    response = ocsp.load_der_ocsp_response(data)
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return unknown(f"the responder answered {response.response_status.name.lower()}")
    signer = _ocsp_signer(response, issuer, now)
    if isinstance(signer, str):
        return unknown(signer)
    if not signature_valid(
        signer.public_key(), response.signature, response.tbs_response_bytes, response.signature_hash_algorithm
    ):
        return unknown("its signature does not verify (tampered, or not from the responder it names)")
    single = _single_for(response, cert, issuer)
    if single is None:
        return unknown("it does not answer for this certificate")
    this_update, next_update = single.this_update_utc, single.next_update_utc
    if this_update > now + CLOCK_SKEW:
        return unknown(f"it is dated {this_update:%Y-%m-%d %H:%M} UTC, in the future")
    fresh_until = next_update or this_update + OCSP_WITHOUT_NEXT_UPDATE
    if fresh_until < now:
        return unknown(f"it is stale: good until {fresh_until:%Y-%m-%d %H:%M} UTC only")
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return RevocationVerdict(Revocation.GOOD, "ocsp", url, next_update=fresh_until)
    if status is ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason
        return RevocationVerdict(
            Revocation.REVOKED,
            "ocsp",
            url,
            reason=_REASONS.get(reason, reason.name) if reason is not None else None,
            revoked_at=single.revocation_time_utc,
            next_update=fresh_until,
        )
    return unknown("the responder does not know the certificate")


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> x509.Certificate | str:
    """The issuer, or the delegated responder certificate it issued, that signed the response; or why none."""
    if _names_signer(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _names_signer(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, UnsupportedAlgorithm, InvalidSignature):
            return "its responder certificate is not issued by the certificate's issuer"
        usage = _extension(candidate, x509.ExtendedKeyUsage)
        if usage is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            return "its responder certificate lacks the OCSPSigning extended key usage"
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            return "its responder certificate is not valid now"
        return candidate
    return "it is signed by neither the issuer nor a responder the issuer delegated to"


def _names_signer(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_hash = response.responder_key_hash
    if key_hash is None:
        return False
    digest = hashes.Hash(hashes.SHA1())
    digest.update(_public_key_bits(cert))
    return digest.finalize() == key_hash


def _single_for(
    response: ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse | None:
    for single in response.responses:
        if single.serial_number != cert.serial_number:
            continue
        algorithm = single.hash_algorithm
        name_hash = hashes.Hash(algorithm)
        name_hash.update(issuer.subject.public_bytes())
        key_hash = hashes.Hash(algorithm)
        key_hash.update(_public_key_bits(issuer))
        if single.issuer_name_hash == name_hash.finalize() and single.issuer_key_hash == key_hash.finalize():
            return single
    return None


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's contents (what OCSP hashes to name a key)."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
    body, _ = _tlv(spki, 0)
    _, after_algorithm = _tlv(body, 0)
    bits, _ = _tlv(after_algorithm, 0)
    return bits[1:]  # the unused-bits octet


def _tlv(data: bytes, offset: int) -> tuple[bytes, bytes]:
    """The contents of the DER element at ``offset``, and what follows it."""
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return data[start : start + length], data[start + length :]


def _scope(crl: x509.CertificateRevocationList, cert: x509.Certificate, url: str | None) -> str | None:
    """Why this (partitioned) CRL does not cover ``cert`` (RFC 5280 6.3.3 b.2); None when it does."""
    point = next((e.value for e in crl.extensions if isinstance(e.value, x509.IssuingDistributionPoint)), None)
    if point is None:
        return None
    if point.indirect_crl:
        return "it is an indirect CRL (not judged here)"
    if point.only_some_reasons is not None:
        return "it covers only some revocation reasons"
    ca = is_ca(cert)
    if point.only_contains_user_certs and ca:
        return "it covers end-entity certificates only"
    if (point.only_contains_ca_certs and not ca) or point.only_contains_attribute_certs:
        return "it covers CA certificates only" if point.only_contains_ca_certs else "it covers attribute certificates"
    if point.full_name:
        covered = {n.value for n in point.full_name if isinstance(n, x509.UniformResourceIdentifier)}
        named = set(crl_urls(cert)) | ({url} if url else set())
        if covered and not covered & named:
            return "it is a partition of the issuer's CRL that does not cover this certificate"
    return None


def _entry_reason(entry: x509.RevokedCertificate) -> str | None:
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None
    return _REASONS.get(reason, reason.name)


_REASONS = {
    x509.ReasonFlags.unspecified: "unspecified",
    x509.ReasonFlags.key_compromise: "keyCompromise",
    x509.ReasonFlags.ca_compromise: "cACompromise",
    x509.ReasonFlags.affiliation_changed: "affiliationChanged",
    x509.ReasonFlags.superseded: "superseded",
    x509.ReasonFlags.cessation_of_operation: "cessationOfOperation",
    x509.ReasonFlags.certificate_hold: "certificateHold",
    x509.ReasonFlags.privilege_withdrawn: "privilegeWithdrawn",
    x509.ReasonFlags.aa_compromise: "aACompromise",
    x509.ReasonFlags.remove_from_crl: "removeFromCRL",
}


def revocation_findings(judged: Sequence[tuple[x509.Certificate, Sequence[RevocationVerdict]]]) -> tuple[Finding, ...]:
    """The findings of each certificate's verdicts (leaf first): REVOKED, or a quiet REVOCATION_UNKNOWN.

    A certificate some source calls good or revoked is settled; one whose sources all failed
    is REVOCATION_UNKNOWN (info: a responder being down is no reason to page anyone); one that
    names no source is not mentioned.
    """
    found: list[Finding] = []
    for position, (cert, verdicts) in enumerate(judged):
        which = "the certificate" if position == 0 else f"intermediate {short_name(_name(cert))}"
        revoked = next((v for v in verdicts if v.status is Revocation.REVOKED), None)
        if revoked is not None:
            when = f" on {revoked.revoked_at:%Y-%m-%d %H:%M} UTC" if revoked.revoked_at else ""
            why = f" (reason: {revoked.reason})" if revoked.reason else " (no reason given)"
            found.append(
                Finding(
                    FindingCode.REVOKED,
                    Severity.CRITICAL,
                    f"{which} was revoked by its CA{when}{why}, says its {revoked.source.upper()}"
                    f"{f' at {revoked.url}' if revoked.url else ''}; clients that check revocation refuse it: "
                    "replace it now",
                )
            )
        elif verdicts and not any(v.status is Revocation.GOOD for v in verdicts):
            problems = "; ".join(f"{v.source.upper()}: {v.problem}" for v in verdicts if v.problem)
            found.append(
                Finding(
                    FindingCode.REVOCATION_UNKNOWN,
                    Severity.INFO,
                    f"whether {which} is revoked is unknown: no source answered ({problems})",
                )
            )
    return tuple(found)


def leaf_status(verdicts: Sequence[RevocationVerdict]) -> Revocation | None:
    """What a certificate's sources say, as ``revocation_findings`` reads them: revoked by any, else good by
    any, else unknown; None when it names no source."""
    statuses = {v.status for v in verdicts}
    for status in (Revocation.REVOKED, Revocation.GOOD, Revocation.UNKNOWN):
        if status in statuses:
            return status
    return None


def _extension[E: x509.ExtensionType](cert: x509.Certificate, kind: type[E]) -> E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def crl_findings(
    path: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList], now: datetime
) -> tuple[Finding, ...]:
    """What the given CRLs say of a path (leaf first, anchor last): ``certwatch inspect --crl-file``.

    Each certificate is judged by the CRLs its issuer published; one that no given CRL is
    about gets no finding.
    """
    judged = []
    for cert, issuer in itertools.pairwise(path):
        verdict = judge_crls(crls, cert, issuer, now)
        judged.append((cert, [] if verdict is None else [verdict]))
    return revocation_findings(judged)
