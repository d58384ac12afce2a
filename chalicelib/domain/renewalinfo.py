"""ACME Renewal Information (RFC 9773): when the CA that issued a certificate wants it renewed.

An ACME CA that offers ARI names a ``renewalInfo`` URL in its directory; ``GET
<renewalInfo>/<certID>`` answers a suggested renewal window (and, when the CA moved it, an
explanation URL). certID is base64url(the authority key identifier's keyIdentifier) "."
base64url(the DER contents of the serial number), without padding (RFC 9773 4.1). Which
directory a certificate's CA has is looked up by its issuer's name in a table: the well-known
public ACME CAs by default, extended or overridden by ``CERTWATCH_ARI_DIRECTORIES``.
Pure: the caller fetches.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from cryptography import x509

from chalicelib.domain.models import CheckPolicy, Finding, FindingCode, RenewalWindow, Severity

# Issuer name attribute ("O=..." or "CN=...") -> the ACME directory of the CA that issues under it.
DEFAULT_DIRECTORIES: dict[str, str] = {
    "O=Let's Encrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "O=(STAGING) Let's Encrypt": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "O=Google Trust Services": "https://dv.acme-v02.api.pki.goog/directory",
    "O=ZeroSSL": "https://acme.zerossl.com/v2/DV90",
}
# How long an answer is kept without a Retry-After, and the bounds put on one (RFC 9773 4.3).
DEFAULT_RETRY = timedelta(hours=6)
MIN_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(days=1)
_ATTRIBUTES = {"O": x509.NameOID.ORGANIZATION_NAME, "CN": x509.NameOID.COMMON_NAME}


def cert_id(cert: x509.Certificate) -> str | None:
    """The certificate's ARI identifier; None when it has no authority key identifier."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if aki.key_identifier is None:
        return None
    serial = cert.serial_number
    serial_der = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    return f"{_b64url(aki.key_identifier)}.{_b64url(serial_der)}"


def directory_table(text: str, defaults: Mapping[str, str] = DEFAULT_DIRECTORIES) -> dict[str, str]:
    """The defaults, changed by a JSON object of issuer attribute -> directory URL ("" removes an entry).

    ValueError says what is wrong with ``text`` (the caller names the setting it came from).
    """
    table = dict(defaults)
    if not text.strip():
        return table
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a JSON object ({exc})") from exc
    if not isinstance(given, dict):
        raise ValueError('expected a JSON object {"O=Issuer Org": "https://.../directory"}')
    for key, url in given.items():
        attribute, _, value = str(key).partition("=")
        if attribute not in _ATTRIBUTES or not value:
            raise ValueError(f"{key!r} is not O=<organization> or CN=<common name>")
        if not isinstance(url, str) or (url and not _is_http_url(url)):
            raise ValueError(f"the directory of {key!r} is not an http(s) URL with a host")
        if url:
            table[str(key)] = url
        else:
            table.pop(str(key), None)
    return table


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is no number, a bracketed host that is no address
        return False


def directory_for(issuer: x509.Name, table: Mapping[str, str]) -> str | None:
    """The ACME directory of the CA that issued under ``issuer``; None when it is not in the table."""
    for key, url in table.items():
        attribute, _, value = key.partition("=")
        oid = _ATTRIBUTES.get(attribute)
        if oid is not None and any(a.value == value for a in issuer.get_attributes_for_oid(oid)):
            return url
    return None


def renewal_info_url(directory: bytes) -> str | None:
    """The ``renewalInfo`` URL of an ACME directory document; None when the CA offers no ARI."""
    try:
        document = json.loads(directory)
    except ValueError:
        return None
    url = document.get("renewalInfo") if isinstance(document, dict) else None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def parse_window(body: bytes) -> RenewalWindow:
    """The suggested window of a renewalInfo answer; ValueError when it is not one."""
    document = json.loads(body)
    window = document.get("suggestedWindow") if isinstance(document, dict) else None
    if not isinstance(window, dict):
        raise ValueError("no suggestedWindow")
    start, end = _moment(window.get("start")), _moment(window.get("end"))
    if end < start:
        raise ValueError("the window ends before it starts")
    explanation = document.get("explanationURL")
    return RenewalWindow(start, end, explanation if isinstance(explanation, str) else None)


def retry_after(header: str | None, now: datetime) -> datetime:
    """Until when an answer is kept: its Retry-After (seconds or an HTTP date), within bounds."""
    wait = DEFAULT_RETRY
    if header:
        text = header.strip()
        try:
            wait = timedelta(seconds=int(text)) if text.isdigit() else parsedate_to_datetime(text) - now
        except (ValueError, TypeError, OverflowError):
            wait = DEFAULT_RETRY
    return now + min(max(wait, MIN_RETRY), MAX_RETRY)


def renewal_finding(
    window: RenewalWindow, not_before: datetime, not_after: datetime, now: datetime, policy: CheckPolicy
) -> Finding | None:
    """RENEWAL_REQUESTED once the window has started: a warning, critical when it ends within critical_days."""
    if now < window.start:
        return None
    left = window.end - now
    critical = policy.critical_days > 0 and left <= timedelta(days=policy.critical_days)
    early = window.start < not_before + (not_after - not_before) / 2
    because = "; it moved the window earlier than usual, as a CA does ahead of revoking" if early else ""
    explained = f"; the CA explains why at {window.explanation_url}" if window.explanation_url else ""
    return Finding(
        FindingCode.RENEWAL_REQUESTED,
        Severity.CRITICAL if critical else Severity.WARNING,
        f"the CA asks for this certificate to be renewed now (ACME renewal information): its suggested window "
        f"{window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC has started{because}{explained}",
    )


def _moment(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("a window bound is not a timestamp")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a window bound has no time zone")
    return moment


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
