"""ACME Renewal Information's pure parts: certID (RFC 9773 4.1), the directory table, windows and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from chalicelib.domain.models import CheckPolicy, RenewalWindow, Severity
from chalicelib.domain.renewalinfo import (
    DEFAULT_DIRECTORIES,
    MAX_RETRY,
    MIN_RETRY,
    cert_id,
    directory_for,
    directory_table,
    parse_window,
    renewal_finding,
    renewal_info_url,
    retry_after,
)
from lab.certs import make_key

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_the_cert_id_of_rfc_9773s_example() -> None:
    key = make_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")]))
        .public_key(key.public_key())
        .serial_number(0x87654321)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=90))
        .add_extension(
            x509.AuthorityKeyIdentifier(bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4"), None, None), False
        )
        .sign(key, hashes.SHA256())
    )
    assert cert_id(cert) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_the_directory_of_an_issuer() -> None:
    lets_encrypt = x509.Name.from_rfc4514_string("CN=R11,O=Let's Encrypt,C=US")
    assert directory_for(lets_encrypt, DEFAULT_DIRECTORIES) == "https://acme-v02.api.letsencrypt.org/directory"
    assert directory_for(x509.Name.from_rfc4514_string("CN=Corp CA,O=Corp"), DEFAULT_DIRECTORIES) is None
    table = directory_table('{"CN=Corp CA": "https://acme.corp.test/dir", "O=Let\'s Encrypt": ""}')
    assert directory_for(x509.Name.from_rfc4514_string("CN=Corp CA,O=Corp"), table) == "https://acme.corp.test/dir"
    assert directory_for(lets_encrypt, table) is None


@pytest.mark.parametrize(
    "text", ["[1, 2]", "{not json", '{"C=US": "https://x"}', '{"O=X": "ftp://x"}', '{"O=X": 3}', '{"=X": "https://x"}']
)
def test_a_bad_directory_table_is_one_line_saying_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=r"JSON object|O=<organization>|http\(s\) URL"):
        directory_table(text)


def test_the_renewal_info_url_of_a_directory() -> None:
    assert renewal_info_url(b'{"renewalInfo": "https://ca.test/ari"}') == "https://ca.test/ari"
    assert renewal_info_url(b'{"newNonce": "https://ca.test/nonce"}') is None
    assert renewal_info_url(b'{"renewalInfo": "file:///etc/passwd"}') is None
    assert renewal_info_url(b"<html>") is None


def test_a_window_is_read_strictly() -> None:
    window = parse_window(
        b'{"suggestedWindow": {"start": "2026-11-27T00:00:00Z", "end": "2026-11-29T00:00:00Z"},'
        b' "explanationURL": "https://ca.test/why"}'
    )
    assert window == RenewalWindow(
        datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC), "https://ca.test/why"
    )
    for bad in (b"{}", b'{"suggestedWindow": {"start": "2026-11-29T00:00:00Z", "end": "2026-11-27T00:00:00Z"}}'):
        with pytest.raises(ValueError, match=r"suggestedWindow|ends before"):
            parse_window(bad)


def test_retry_after_is_honoured_within_bounds() -> None:
    assert retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert retry_after("1", NOW) == NOW + MIN_RETRY
    assert retry_after("99999999", NOW) == NOW + MAX_RETRY
    assert retry_after("Fri, 27 Nov 2026 15:00:00 GMT", NOW) == NOW + timedelta(hours=3)
    assert retry_after(None, NOW) == NOW + timedelta(hours=6)
    assert retry_after("soon", NOW) == NOW + timedelta(hours=6)


def test_a_started_window_is_a_warning_and_critical_near_its_end() -> None:
    not_before, not_after = NOW - timedelta(days=60), NOW + timedelta(days=30)
    later = RenewalWindow(NOW + timedelta(days=1), NOW + timedelta(days=3))
    assert renewal_finding(later, not_before, not_after, NOW, CheckPolicy()) is None
    usual = RenewalWindow(NOW - timedelta(hours=1), NOW + timedelta(days=10))
    finding = renewal_finding(usual, not_before, not_after, NOW, CheckPolicy())
    assert finding is not None
    assert finding.severity is Severity.WARNING
    assert "earlier than usual" not in finding.message
    closing = RenewalWindow(NOW - timedelta(days=1), NOW + timedelta(days=2))
    finding = renewal_finding(closing, not_before, not_after, NOW, CheckPolicy(critical_days=7))
    assert finding is not None
    assert finding.severity is Severity.CRITICAL
