from __future__ import annotations

import pytest

from chalicelib.endpoints import endpoint_from_parts, parse_target
from chalicelib.errors import InvalidTargetError
from chalicelib.models import Protocol


@pytest.mark.parametrize(
    ("text", "host", "port", "protocol"),
    [
        ("example.com", "example.com", 443, Protocol.HTTPS),
        ("Example.COM.", "example.com", 443, Protocol.HTTPS),
        ("example.com:8443", "example.com", 8443, Protocol.HTTPS),
        ("https://example.com/path?q=1", "example.com", 443, Protocol.HTTPS),
        ("https://example.com:9443/", "example.com", 9443, Protocol.HTTPS),
        ("[2001:db8::1]:443", "2001:db8::1", 443, Protocol.HTTPS),
        ("2001:db8::1", "2001:db8::1", 443, Protocol.HTTPS),
        ("192.0.2.7:8443", "192.0.2.7", 8443, Protocol.HTTPS),
        ("smtp://mail.example.com", "mail.example.com", 25, Protocol.SMTP),
        ("submission://mail.example.com", "mail.example.com", 587, Protocol.SUBMISSION),
        ("smtps://mail.example.com", "mail.example.com", 465, Protocol.SMTPS),
        ("imap://mail.example.com", "mail.example.com", 143, Protocol.IMAP),
        ("imaps://mail.example.com", "mail.example.com", 993, Protocol.IMAPS),
        ("pop3://mail.example.com", "mail.example.com", 110, Protocol.POP3),
        ("pop3s://mail.example.com", "mail.example.com", 995, Protocol.POP3S),
        ("ftp://files.example.com", "files.example.com", 21, Protocol.FTP),
        ("ldaps://ldap.example.com", "ldap.example.com", 636, Protocol.LDAPS),
        ("postgres://db.example.com", "db.example.com", 5432, Protocol.POSTGRES),
        ("postgresql://db.example.com:6432/app", "db.example.com", 6432, Protocol.POSTGRES),
        ("tls://10.0.0.1:8883", "10.0.0.1", 8883, Protocol.TLS),
        ("bücher.example", "xn--bcher-kva.example", 443, Protocol.HTTPS),
    ],
)
def test_parses_the_forms_a_user_pastes(text: str, host: str, port: int, protocol: Protocol) -> None:
    endpoint = parse_target(text)
    assert (endpoint.host, endpoint.port, endpoint.protocol) == (host, port, protocol)


def test_address_literals_send_no_sni_unless_asked() -> None:
    assert parse_target("[::1]:443").server_name is None
    assert parse_target("[::1]:443", sni="api.example.com").server_name == "api.example.com"
    assert parse_target("[::1]:443", sni="api.example.com").checked_name == "api.example.com"
    assert parse_target("example.com").server_name == "example.com"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("gopher://example.com", "unsupported scheme"),
        ("example.com:0", "invalid port"),
        ("example.com:70000", "invalid port"),
        ("example.com:https", "invalid port"),
        ("tls://example.com", "needs a port"),
        ("exa mple.com", "invalid host"),
        ("-bad-.example.com", "invalid host"),
        ("https://", "cannot read target"),
    ],
)
def test_rejects_what_is_not_a_target_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(InvalidTargetError, match=fragment):
        parse_target(text)


def test_builds_from_separate_fields() -> None:
    endpoint = endpoint_from_parts("Mail.Example.com", None, "smtp")
    assert (endpoint.host, endpoint.port, endpoint.protocol) == ("mail.example.com", 25, Protocol.SMTP)
    assert str(endpoint) == "smtp://mail.example.com:25"
    assert str(parse_target("[2001:db8::1]:8443")) == "https://[2001:db8::1]:8443"
