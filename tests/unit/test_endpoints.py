from __future__ import annotations

import re
import socket

import pytest

from chalicelib.domain.endpoints import endpoint_from_parts, normalize_hostname, parse_target
from chalicelib.domain.hostnames import covers
from chalicelib.domain.models import Protocol
from chalicelib.domain.targets import endpoint_key
from chalicelib.errors import InvalidTargetError


@pytest.mark.parametrize(
    ("text", "host", "port", "protocol"),
    [
        ("example.com", "example.com", 443, Protocol.HTTPS),
        ("Example.COM.", "example.com", 443, Protocol.HTTPS),
        ("example.com:8443", "example.com", 8443, Protocol.TLS),  # "TLS on port 8443", as documented
        ("example.com:443", "example.com", 443, Protocol.HTTPS),
        ("https://example.com/path?q=1", "example.com", 443, Protocol.HTTPS),
        ("https://example.com:9443/", "example.com", 9443, Protocol.HTTPS),
        ("[2001:db8::1]:443", "2001:db8::1", 443, Protocol.HTTPS),
        ("2001:db8::1", "2001:db8::1", 443, Protocol.HTTPS),
        ("192.0.2.7:8443", "192.0.2.7", 8443, Protocol.TLS),
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


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://Example.COM.", "example.com"),
        ("https://example.com:443/path", "example.com"),
        ("example.com:8443", "tls://example.com:8443"),
        ("example.com:8443", "https://example.com:8443"),
        ("smtps://mail.example.com", "tls://mail.example.com:465"),
        ("submission://mail.example.com", "smtp://mail.example.com:587"),
        ("https://xn--fa-hia.de", "faß.de"),
    ],
)
def test_two_spellings_of_one_endpoint_have_one_key(first: str, second: str) -> None:
    assert endpoint_key(parse_target(first)) == endpoint_key(parse_target(second))


def test_an_sni_equal_to_the_host_is_the_endpoint_without_one() -> None:
    assert parse_target("example.com", sni="EXAMPLE.com.") == parse_target("example.com")
    assert parse_target("[::1]:443", sni="api.example.com").sni == "api.example.com"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("example.com", "example.com:8443"),
        ("smtp://mail.example.com:465", "smtps://mail.example.com"),  # STARTTLS is not implicit TLS
        ("example.com", "www.example.com"),
    ],
)
def test_other_endpoints_have_other_keys(first: str, second: str) -> None:
    assert endpoint_key(parse_target(first)) != endpoint_key(parse_target(second))


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
    assert str(parse_target("[2001:db8::1]:8443")) == "tls://[2001:db8::1]:8443"


NUMERIC_SPELLINGS = [
    ("2130706433", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0X7F.0.0.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("10.1", "10.0.0.1"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("169.16689662", "169.254.169.254"),
    ("0", "0.0.0.0"),
    ("4294967295", "255.255.255.255"),
    ("1.1.257", "1.1.1.1"),
    ("127.0.0.1.", "127.0.0.1"),
]


@pytest.mark.parametrize(("text", "address"), NUMERIC_SPELLINGS)
def test_a_host_spelled_in_inet_atons_forms_is_that_address(text: str, address: str) -> None:
    endpoint = parse_target(f"https://{text}:8443/")
    assert (endpoint.host, endpoint.host_is_address, endpoint.server_name) == (address, True, None)
    assert endpoint_key(endpoint) == endpoint_key(parse_target(f"{address}:8443"))
    assert endpoint_from_parts(text, 8443).host == address


@pytest.mark.parametrize(("text", "address"), NUMERIC_SPELLINGS)
def test_the_reading_of_numeric_hosts_is_the_system_resolvers(text: str, address: str) -> None:
    """What getaddrinfo would connect to for such a "name" (glibc's inet_aton) is what we store."""
    assert socket.inet_ntoa(socket.inet_aton(text.rstrip("."))) == address


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("１２７.０.０.１", "127.0.0.1"),  # full-width digits
        ("１２７。０。０。１", "127.0.0.1"),  # and ideographic full stops
        ("２１３０７０６４３３", "127.0.0.1"),
        ("１０.１", "10.0.0.1"),
        ("０ｘ７ｆ.１", "127.0.0.1"),
    ],
)
def test_a_host_in_full_width_digits_is_that_address(text: str, address: str) -> None:
    endpoint = parse_target(text)
    assert (endpoint.host, endpoint.host_is_address, endpoint.server_name) == (address, True, None)
    assert endpoint_from_parts(text, None).host == address


@pytest.mark.parametrize(
    "text",
    ["1.2.3.256", "256.1.1.1", "1.2.3.4.5", "4294967296", "0x100000000", "1.16777216", "08.0.0.1", "example.123"],
)
def test_a_host_ending_in_a_number_that_is_no_address_is_refused(text: str) -> None:
    with pytest.raises(InvalidTargetError, match="ending in a number must be an IPv4 address"):
        parse_target(text)
    with pytest.raises(InvalidTargetError, match="ending in a number"):
        endpoint_from_parts(text, 443)


@pytest.mark.parametrize("text", ["1.example.com", "0x7f.example", "127.0.0.1.nip.io", "host-1.example", "4a.example"])
def test_names_with_numbers_inside_stay_names(text: str) -> None:
    endpoint = parse_target(text)
    assert (endpoint.host, endpoint.host_is_address) == (text, False)


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("[::ffff:10.0.0.1]", "::ffff:10.0.0.1"),
        ("[::FFFF:a00:1]:443", "::ffff:10.0.0.1"),  # Python 3.12 alone would store ::ffff:a00:1
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_an_ipv4_mapped_address_is_stored_in_one_spelling_on_every_python(text: str, host: str) -> None:
    assert parse_target(text).host == host


# --- names as browsers read them: UTS #46 non-transitional, IDNA 2008 ------------------------------


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2003 (Python's "idna" codec) gave fass.de, another domain
        ("straße.de", "xn--strae-oqa.de"),
        ("FASS.DE", "fass.de"),
        ("ΣΑΣ.gr", "xn--mxa9ab.gr"),  # case-folded to σασ, final sigma left as it is
        ("σας.gr", "xn--mxa8ab.gr"),  # ς is kept: IDNA 2003 made it σ, the name above
        ("Ⅸ.example", "ix.example"),  # UTS #46 maps the Roman numeral to its letters
        ("ｅｘａｍｐｌｅ．com", "example.com"),  # full-width letters and full stop
        ("bücher.example。", "xn--bcher-kva.example"),  # an ideographic full stop as the trailing dot
        ("\u0915\u094d\u200d\u0937.example", "xn--11b2ezcw70k.example"),  # ZWJ after a virama: CONTEXTJ allows it
        ("xn--fa-hia.de", "xn--fa-hia.de"),  # an A-label is kept
        ("XN--Bcher-KVA.example", "xn--bcher-kva.example"),
        ("_dmarc.example.com", "_dmarc.example.com"),  # ASCII labels keep what they allowed: "_"
        ("a_b.bücher.example", "a_b.xn--bcher-kva.example"),
        ("ab--c.example", "ab--c.example"),  # hyphens in 3rd and 4th place, as browsers (CheckHyphens=false)
        ("Internal_Host.corp.", "internal_host.corp"),
    ],
)
def test_a_name_is_stored_as_browsers_send_it(text: str, host: str) -> None:
    endpoint = parse_target(f"https://{text}/")
    assert (endpoint.host, endpoint.host_is_address, endpoint.checked_name) == (host, False, host)
    assert endpoint_from_parts(text, None).host == host
    assert normalize_hostname(text) == host


def test_a_certificate_for_the_idna_2003_name_does_not_cover_the_name_checked() -> None:
    """faß.de and fass.de are two registrations: a certificate for one says nothing of the other."""
    checked = parse_target("faß.de", sni="straße.de").checked_name
    assert checked == "xn--strae-oqa.de"
    assert covers(["xn--strae-oqa.de"], checked)
    assert covers(["XN--STRAE-OQA.DE"], checked)
    assert not covers(["strasse.de"], checked)
    assert not covers(["straße.de"], checked)  # a U-label in a dNSName SAN is no A-label
    assert not covers(["xn--fa-hia.de"], parse_target("fass.de").checked_name)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a\u200db.example", "Joiner U+200D not allowed"),  # IDNA 2003 dropped it silently: ab.example
        ("a\u200cb.example", "Joiner U+200C not allowed"),
        ("\U0001f600.example", "U+1F600"),  # an emoji: valid in IDNA 2003, not in IDNA 2008
        ("xn--ls8h.la", "'xn--ls8h' is no valid A-label"),  # the A-label of an emoji
        ("xn--zz.de", "'xn--zz' is no valid A-label"),  # no Punycode
        ("xn--abc.de", "'xn--abc' is no valid A-label"),
        ("xn--.de", "'xn--' is no valid A-label"),
        ("xn---bbk.de", "'xn---bbk' is no valid A-label"),  # not the canonical spelling of its U-label
        ("\u0661\u0662\u0663.com", "bidirectional"),  # Arabic-Indic digits alone break the Bidi rule
        ("é_x.com", "U+005F"),  # IDNA 2008 has no "_" in a U-label
        ("-é.example", "hyphen"),
        ("a\ufffdb.example", "U+FFFD"),  # disallowed by UTS #46 itself
        ("ü" * 60 + ".example", "longer than 63 characters as an A-label"),
        ("a..b.example", "empty label"),
        (".", "empty"),
        ("a" * 64 + ".example", "longer than 63"),
        (".".join(["a" * 63] * 4), "longer than 253"),
    ],
)
def test_a_name_that_idna_2008_refuses_is_refused_naming_the_host_and_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidTargetError, match=re.escape(fragment)) as refused:
        parse_target(f"https://{text}")
    assert str(refused.value).startswith(f"invalid host in {f'https://{text}'!r}")
    with pytest.raises(InvalidTargetError, match=re.escape(fragment)):
        parse_target("[::1]", sni=text)
    with pytest.raises(InvalidTargetError, match=re.escape(fragment)):
        endpoint_from_parts(text, 443)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("https:/127.0.0.1", "a scheme takes two slashes, as in https://127.0.0.1"),
        ("https:/127.0.0.1:8443/x", "as in https://127.0.0.1:8443/x"),
        ("HTTPS:/example.com", "as in https://example.com"),
        ("https:///example.com", "as in https://example.com"),
        ("https:////example.com", "as in https://example.com"),
        ("https:\\\\example.com", "as in https://example.com"),
        ("https://\\example.com", "as in https://example.com"),
        ("https:example.com", "as in https://example.com"),
        ("smtps:mail.example.com:465", "as in smtps://mail.example.com:465"),
        ("postgresql:/db.example.com", "as in postgresql://db.example.com"),
        ("https:", "as in https://HOST"),
        ("https:/", "as in https://HOST"),
        ("https:///", "as in https://HOST"),
        ("https:8443", "as in https://HOST:8443"),  # no host named "https", nor https://0.0.32.251
        ("example.com:/path", "cannot read target"),  # a scheme "example.com" or an empty port?
        ("htps:/example.com", "cannot read target"),
    ],
)
def test_a_scheme_without_its_two_slashes_is_refused_rather_than_guessed(text: str, fragment: str) -> None:
    """Browsers read ``https:/host`` as ``https://host``; we would have read the host ``https``."""
    with pytest.raises(InvalidTargetError, match=re.escape(fragment)) as refused:
        parse_target(text)
    assert str(refused.value).startswith(f"cannot read target {text!r}")


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("https://example.com:/path", "example.com", 443),  # an empty port after "//" is the default (WHATWG)
        ("example.com:", "example.com", 443),
        ("mail:587", "mail", 587),
        ("example.com:8443/path", "example.com", 8443),
    ],
)
def test_colons_and_slashes_that_read_one_way_only_still_do(text: str, host: str, port: int) -> None:
    endpoint = parse_target(text)
    assert (endpoint.host, endpoint.port) == (host, port)
