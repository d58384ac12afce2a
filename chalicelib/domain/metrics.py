"""The series ``GET /metrics`` serves, and their values, from the targets and their stored reports.

Three families of names, each with the meaning its project documents, so that dashboards and alert
rules written for an exporter keep working when the scrape moves to certwatch:

- blackbox_exporter's (``probe_success``, ``probe_ssl_earliest_cert_expiry``: the earliest notAfter
  of the certificates the server sent; ``probe_ssl_last_chain_expiry_timestamp_seconds``: the
  earliest notAfter of the verified chain, anchor included; ``probe_ssl_last_chain_info`` of the
  leaf; ``probe_tls_version_info``, ``probe_tls_cipher_info``),
- ssl_exporter's (``ssl_probe_success``; ``ssl_cert_not_after``/``_not_before`` per certificate the
  server sent, duplicates by serial and issuer CN dropped; ``ssl_verified_cert_not_after``/
  ``_not_before`` per certificate of the verified chain; ``ssl_tls_version_info``;
  ``ssl_ocsp_response_status``),
- certwatch's own (``certwatch_*``).

Where certwatch knows more than an exporter, the series stay: a certificate that expired, or one a
client refuses, keeps its expiry series (an exporter's handshake fails and they vanish), and an
address that served nothing keeps ``probe_success`` 0 with the failure in ``certwatch_check_info``.
Subject alternative names live in info series only (``probe_ssl_last_chain_info``,
``certwatch_certificate_info``), never on a series with a value to graph.

Every series carries ``team``, ``target`` (the endpoint, as every document names it) and
``target_id``; those of one address carry ``address`` too. Pure: the caller reads the store.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.lifetime import max_lifetime_days
from chalicelib.domain.models import (
    CertificateInfo,
    CheckResult,
    Finding,
    FindingCode,
    Revocation,
    TargetReport,
    days_until,
    short_name,
)
from chalicelib.domain.posture import key_exchange
from chalicelib.domain.targets import Target

TARGET_LABELS = ("team", "target", "target_id")
ADDRESS = "address"


class Kind(enum.StrEnum):
    """How a family is exposed: a gauge, or an info series (its facts are labels, its value 1)."""

    GAUGE = "gauge"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Family:
    """One family of series: its name as scraped (an info family's ends in ``_info``), kind, help and labels."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    per_address: bool = True

    @property
    def label_names(self) -> tuple[str, ...]:
        """Every label of the family's series, in order: the target's, the address's, its own."""
        return TARGET_LABELS + ((ADDRESS,) if self.per_address else ()) + self.labels


@dataclass(frozen=True, slots=True)
class Sample:
    """One series and its value: the label values in ``family.label_names`` order."""

    family: Family
    labels: tuple[str, ...]
    value: float


@dataclass(frozen=True, slots=True)
class Watched:
    """A target and its latest stored report (None until its first check)."""

    target: Target
    report: TargetReport | None


G, INFO = Kind.GAUGE, Kind.INFO
_CERT = ("serial_no", "issuer_cn", "cn", "ou")  # ssl_exporter's, less its SAN labels (dnsnames, ips, emails)

# blackbox_exporter's families (prober/prober.go, prober/http.go, prober/handler.go).
PROBE_SUCCESS = Family("probe_success", G, "Displays whether or not the probe was a success")
EARLIEST_EXPIRY = Family("probe_ssl_earliest_cert_expiry", G, "Returns last SSL chain expiry in unixtime")
LAST_CHAIN_EXPIRY = Family(
    "probe_ssl_last_chain_expiry_timestamp_seconds", G, "Returns last SSL chain expiry in timestamp"
)
LAST_CHAIN_INFO = Family(
    "probe_ssl_last_chain_info",
    INFO,
    "Contains SSL leaf certificate information",
    ("fingerprint_sha256", "subject", "issuer", "subjectalternative", "serialnumber"),
)
TLS_VERSION = Family("probe_tls_version_info", INFO, "Returns the TLS version used or NaN when unknown", ("version",))
TLS_CIPHER = Family("probe_tls_cipher_info", INFO, "Returns the TLS cipher negotiated during handshake", ("cipher",))
# ssl_exporter's (prober/metrics.go, ssl_exporter.go).
SSL_SUCCESS = Family("ssl_probe_success", G, "If the probe was a success")
SSL_NOT_AFTER = Family("ssl_cert_not_after", G, "NotAfter expressed as a Unix Epoch Time", _CERT)
SSL_NOT_BEFORE = Family("ssl_cert_not_before", G, "NotBefore expressed as a Unix Epoch Time", _CERT)
SSL_VERIFIED_NOT_AFTER = Family(
    "ssl_verified_cert_not_after", G, "NotAfter expressed as a Unix Epoch Time", ("chain_no", *_CERT)
)
SSL_VERIFIED_NOT_BEFORE = Family(
    "ssl_verified_cert_not_before", G, "NotBefore expressed as a Unix Epoch Time", ("chain_no", *_CERT)
)
SSL_TLS_VERSION = Family("ssl_tls_version_info", INFO, "The TLS version used", ("version",))
SSL_OCSP_STATUS = Family(
    "ssl_ocsp_response_status",
    G,
    "The status in the OCSP response 0=Good 1=Revoked 2=Unknown (certwatch: the leaf's CA, by CRL or OCSP)",
)
# certwatch's own.
TARGET_INFO = Family(
    "certwatch_target_info",
    INFO,
    "A registered target: its status (ok, warning, critical, error; pending before its first check) and whether "
    "it is paused",
    ("status", "paused"),
    per_address=False,
)
LAST_CHECK = Family(
    "certwatch_last_check_timestamp_seconds", G, "When the target was last checked (Unix time)", per_address=False
)
CHECK_INFO = Family(
    "certwatch_check_info",
    INFO,
    "One address's check: its status, and why nothing was read (dns, refused, timeout, tls, protocol, forbidden; "
    "empty when a certificate was read)",
    ("status", "failure"),
)
FINDING = Family(
    "certwatch_finding",
    G,
    "How many findings of the code and severity the latest check made; address empty for the whole target's",
    ("code", "severity"),
)
CERTIFICATE_INFO = Family(
    "certwatch_certificate_info",
    INFO,
    "A certificate the server sent, with its names (dnsnames and ips as ssl_exporter writes them)",
    ("fingerprint_sha256", "serial_no", "issuer_cn", "cn", "dnsnames", "ips"),
)
DAYS_LEFT = Family("certwatch_days_left", G, "Whole days until the leaf expires; negative once it has expired")
RENEWAL_OVERDUE = Family(
    "certwatch_renewal_overdue", G, "1 when under a third of the leaf's lifetime is left (RENEWAL_OVERDUE)"
)
REVOKED = Family(
    "certwatch_revoked", G, "1 when the CA says a certificate of the path is revoked; present once the CA was asked"
)
ARI_START = Family(
    "certwatch_ari_window_start_timestamp_seconds", G, "Start of the ACME CA's suggested renewal window (RFC 9773)"
)
ARI_END = Family(
    "certwatch_ari_window_end_timestamp_seconds", G, "End of the ACME CA's suggested renewal window (RFC 9773)"
)
LIFETIME_HEADROOM = Family(
    "certwatch_lifetime_policy_headroom_days",
    G,
    "Days the leaf's lifetime is under the CA/Browser Forum maximum for its notBefore (negative: over it)",
)
TLS_GROUP = Family(
    "certwatch_tls_group_info",
    INFO,
    "The key exchange group the handshake negotiated (OpenSSL's name) and what it is made of: hybrid post-quantum, "
    "post-quantum, classical or unknown",
    ("group", "key_exchange"),
)

FAMILIES: tuple[Family, ...] = (
    PROBE_SUCCESS,
    EARLIEST_EXPIRY,
    LAST_CHAIN_EXPIRY,
    LAST_CHAIN_INFO,
    TLS_VERSION,
    TLS_CIPHER,
    SSL_SUCCESS,
    SSL_NOT_AFTER,
    SSL_NOT_BEFORE,
    SSL_VERIFIED_NOT_AFTER,
    SSL_VERIFIED_NOT_BEFORE,
    SSL_TLS_VERSION,
    SSL_OCSP_STATUS,
    TARGET_INFO,
    LAST_CHECK,
    CHECK_INFO,
    FINDING,
    CERTIFICATE_INFO,
    DAYS_LEFT,
    RENEWAL_OVERDUE,
    REVOKED,
    ARI_START,
    ARI_END,
    LIFETIME_HEADROOM,
    TLS_GROUP,
)

# Go's crypto/tls names the negotiated version so (blackbox's getTLSVersion, ssl_exporter's alike).
_TLS_VERSIONS = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}
# OpenSSL's names of the TLS 1.2 and older suites Go implements, and the IANA names Go's
# tls.CipherSuiteName gives them (TLS 1.3's are the same in both). Others keep OpenSSL's name.
_IANA_CIPHERS = {
    "RC4-SHA": "TLS_RSA_WITH_RC4_128_SHA",
    "DES-CBC3-SHA": "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "AES128-SHA": "TLS_RSA_WITH_AES_128_CBC_SHA",
    "AES256-SHA": "TLS_RSA_WITH_AES_256_CBC_SHA",
    "AES128-SHA256": "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "AES256-GCM-SHA384": "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-RC4-SHA": "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "ECDHE-ECDSA-AES128-SHA": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "ECDHE-ECDSA-AES256-SHA": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "ECDHE-RSA-RC4-SHA": "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "ECDHE-RSA-DES-CBC3-SHA": "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "ECDHE-RSA-AES128-SHA": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "ECDHE-RSA-AES256-SHA": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "ECDHE-ECDSA-AES128-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "ECDHE-RSA-AES128-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
}
_OCSP_STATUS = {Revocation.GOOD: 0, Revocation.REVOKED: 1, Revocation.UNKNOWN: 2}
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def samples(watched: Iterable[Watched]) -> Iterator[Sample]:
    """Every series of the targets, target by target (never raises on what a report holds)."""
    for one in watched:
        yield from _target_samples(one.target, one.report)


def _target_samples(target: Target, report: TargetReport | None) -> Iterator[Sample]:
    ids = (target.team, str(target.endpoint), target.id)
    status = "pending" if report is None else report.status.value
    yield Sample(TARGET_INFO, (*ids, status, str(target.paused).lower()), 1)
    if report is None:
        return
    yield Sample(LAST_CHECK, ids, report.checked_at.timestamp())
    yield from _finding_samples((*ids, ""), report.target_findings)
    for result in report.results:
        yield from _address_samples((*ids, result.address or ""), result)


def _finding_samples(at: tuple[str, ...], findings: Sequence[Finding]) -> Iterator[Sample]:
    """One series per code and severity, its value how many findings of the kind there are."""
    counted = Counter((f.code.value, f.severity.value) for f in findings)
    for kind, count in counted.items():
        yield Sample(FINDING, (*at, *kind), count)


def _address_samples(at: tuple[str, ...], result: CheckResult) -> Iterator[Sample]:
    failure = "" if result.leaf else next((f.reason.value for f in result.findings if f.reason), "")
    yield Sample(CHECK_INFO, (*at, result.status.value, failure), 1)
    success = 1 if result.verified_chain else 0
    yield Sample(PROBE_SUCCESS, at, success)
    yield Sample(SSL_SUCCESS, at, success)
    yield from _finding_samples(at, result.findings)
    if result.tls_version:
        version = _TLS_VERSIONS.get(result.tls_version, "unknown")
        yield Sample(TLS_VERSION, (*at, version), 1)
        yield Sample(SSL_TLS_VERSION, (*at, version), 1)
    if result.cipher:
        yield Sample(TLS_CIPHER, (*at, _IANA_CIPHERS.get(result.cipher, result.cipher)), 1)
    kind = key_exchange(result.group)
    if result.group and kind is not None:
        yield Sample(TLS_GROUP, (*at, result.group, kind.value), 1)
    if result.leaf is not None:
        yield from _certificate_samples(at, result, result.leaf)


def _certificate_samples(at: tuple[str, ...], result: CheckResult, leaf: CertificateInfo) -> Iterator[Sample]:
    served = (leaf, *result.chain)
    yield Sample(EARLIEST_EXPIRY, at, _unix(min(c.not_after for c in served)))
    info = (leaf.fingerprint_sha256, leaf.subject, leaf.issuer, ",".join(leaf.sans), _hex_serial(leaf.serial))
    yield Sample(LAST_CHAIN_INFO, (*at, *info), 1)
    for cert in _unique(served):
        labels = (*at, *_cert_labels(cert))
        yield Sample(SSL_NOT_AFTER, labels, _unix(cert.not_after))
        yield Sample(SSL_NOT_BEFORE, labels, _unix(cert.not_before))
        names = (_listed(cert.sans), _listed(cert.ip_sans))
        yield Sample(CERTIFICATE_INFO, (*at, cert.fingerprint_sha256, *_cert_labels(cert)[:3], *names), 1)
    if result.verified_chain:
        yield Sample(LAST_CHAIN_EXPIRY, at, _unix(min(c.not_after for c in result.verified_chain)))
        for cert in _unique(result.verified_chain):
            labels = (*at, "0", *_cert_labels(cert))  # one verified chain: the path the verifier built
            yield Sample(SSL_VERIFIED_NOT_AFTER, labels, _unix(cert.not_after))
            yield Sample(SSL_VERIFIED_NOT_BEFORE, labels, _unix(cert.not_before))
    codes = {f.code for f in result.findings}
    yield Sample(DAYS_LEFT, at, days_until(leaf.not_after, result.checked_at))
    yield Sample(RENEWAL_OVERDUE, at, 1 if FindingCode.RENEWAL_OVERDUE in codes else 0)
    if result.revocation is not None or FindingCode.REVOKED in codes:
        revoked = FindingCode.REVOKED in codes or result.revocation is Revocation.REVOKED
        yield Sample(REVOKED, at, 1 if revoked else 0)
    if result.revocation is not None:
        yield Sample(SSL_OCSP_STATUS, at, _OCSP_STATUS[result.revocation])
    if result.renewal_window is not None:
        yield Sample(ARI_START, at, result.renewal_window.start.timestamp())
        yield Sample(ARI_END, at, result.renewal_window.end.timestamp())
    headroom = lifetime_headroom_days(leaf)
    if headroom is not None:
        yield Sample(LIFETIME_HEADROOM, at, headroom)


def lifetime_headroom_days(leaf: CertificateInfo) -> float | None:
    """The CA/Browser Forum's maximum lifetime for the leaf's notBefore less its lifetime, in days.

    None for a certificate issued before the limits (September 2020).
    """
    allowed = max_lifetime_days(leaf.not_before)
    if allowed is None:
        return None
    return round((timedelta(days=allowed) - leaf.lifetime) / timedelta(days=1), 6)


def _unique(certs: Sequence[CertificateInfo]) -> list[CertificateInfo]:
    """ssl_exporter's ``uniq``: the first of the certificates with the same serial and issuer CN."""
    seen: dict[tuple[str, str], CertificateInfo] = {}
    for cert in certs:
        seen.setdefault((cert.serial, short_name(cert.issuer)), cert)
    return list(seen.values())


def _cert_labels(cert: CertificateInfo) -> tuple[str, str, str, str]:
    """ssl_exporter's serial_no (decimal), issuer_cn, cn and ou (",a,b," in the certificate's order)."""
    units = [part[3:] for part in reversed(_UNESCAPED_COMMA.split(cert.subject)) if part.startswith("OU=")]
    return str(_serial(cert.serial)), _cn(cert.issuer), _cn(cert.subject), _listed(units)


def _cn(name: str) -> str:
    """A name's common name, empty when it has none (Go's pkix.Name.CommonName)."""
    shown = short_name(name)
    return "" if shown == name and not name.startswith("CN=") else shown


def _listed(values: Sequence[str]) -> str:
    """ssl_exporter's form of a list in a label: ",a,b," (empty for none)."""
    return f",{','.join(values)}," if values else ""


def _serial(serial: str) -> int:
    return int(serial, 16)


def _hex_serial(serial: str) -> str:
    """blackbox_exporter's serialnumber: the serial's bytes in lower-case hex (leading zero nibble kept)."""
    digits = serial.lstrip("-")
    return digits if len(digits) % 2 == 0 else "0" + digits


def _unix(moment: datetime) -> int:
    """Whole Unix seconds, as Go's ``time.Unix()`` gives them."""
    return int(moment.timestamp())
