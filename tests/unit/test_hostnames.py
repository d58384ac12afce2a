from __future__ import annotations

import pytest

from chalicelib.domain.hostnames import covers


@pytest.mark.parametrize(
    ("sans", "name"),
    [
        (["www.example.com"], "www.example.com"),
        (["other.example.com", "www.example.com"], "www.example.com"),
        (["*.example.com"], "a.example.com"),
        (["*.example.com"], "www.example.com"),
        (["*.co.example"], "shop.co.example"),
        (["WWW.Example.COM"], "www.example.com"),
        (["www.example.com"], "WWW.EXAMPLE.com"),
        (["*.EXAMPLE.com"], "Api.example.COM"),
        (["www.example.com."], "www.example.com"),
        (["www.example.com"], "www.example.com."),
        (["*.example.com."], "a.example.com."),
        (["xn--bcher-kva.example"], "xn--bcher-kva.example"),
        (["*.xn--bcher-kva.example"], "shop.xn--bcher-kva.example"),
    ],
)
def test_dns_names_that_are_covered(sans: list[str], name: str) -> None:
    assert covers(sans, name)


@pytest.mark.parametrize(
    ("sans", "name"),
    [
        ([], "www.example.com"),
        (["www.example.com"], "example.com"),
        (["www.example.com"], "www.example.org"),
        (["example.com"], "www.example.com"),
        (["*.example.com"], "example.com"),
        (["*.example.com"], "a.b.example.com"),
        (["*.example.com"], ".example.com"),
        (["*.example.com"], "a.example.org"),
        (["*.example.com"], "aexample.com"),
        (["*.com"], "example.com"),
        (["*.com."], "example.com"),
        (["*"], "localhost"),
        (["f*.example.com"], "foo.example.com"),
        (["*o.example.com"], "foo.example.com"),
        (["a.*.example.com"], "a.b.example.com"),
        (["www.*.com"], "www.example.com"),
    ],
)
def test_dns_names_that_are_not_covered(sans: list[str], name: str) -> None:
    assert not covers(sans, name)


def test_a_wildcard_pattern_is_only_a_wildcard_as_the_whole_left_label() -> None:
    # Not a wildcard, so it matches nothing but itself, character for character.
    assert covers(["f*.example.com"], "f*.example.com")
    assert not covers(["f*.example.com"], "f.example.com")


@pytest.mark.parametrize(
    ("sans", "name"),
    [
        (["192.0.2.1"], "192.0.2.1"),
        (["2001:db8::1"], "2001:db8::1"),
        (["2001:db8::1"], "2001:0db8:0000:0000:0000:0000:0000:0001"),
        (["2001:0db8:0:0:0:0:0:1"], "2001:db8::1"),
        (["2001:DB8::A"], "2001:db8::a"),
        (["::1"], "0:0:0:0:0:0:0:1"),
    ],
)
def test_ip_names_are_covered_by_the_same_address(sans: list[str], name: str) -> None:
    assert covers([], name, sans)


@pytest.mark.parametrize(
    ("sans", "name"),
    [
        (["192.0.2.1"], "192.0.2.2"),
        (["2001:db8::1"], "2001:db8::2"),
        (["192.0.2.1"], "::ffff:192.0.2.2"),
        (["www.example.com"], "192.0.2.1"),
        (["*.example.com"], "192.0.2.1"),
        (["*.0.2.1"], "192.0.2.1"),
        (["*.2.0.192.in-addr.arpa"], "192.0.2.1"),
        (["www.example.com"], "2001:db8::1"),
    ],
)
def test_ip_names_are_not_covered_by_other_addresses_or_dns_names(sans: list[str], name: str) -> None:
    ip_sans = [san for san in sans if san[0].isdigit() or ":" in san]
    assert not covers([san for san in sans if san not in ip_sans], name, ip_sans)


@pytest.mark.parametrize("name", ["www.example.com", "1.example.com", "a.b.example.com"])
def test_an_ip_san_never_covers_a_dns_name(name: str) -> None:
    assert not covers([], name, ["192.0.2.1", "2001:db8::1"])


@pytest.mark.parametrize("name", ["192.0.2.1", "2001:db8::1"])
def test_a_dns_san_spelling_an_address_never_covers_it(name: str) -> None:
    assert not covers([name], name)


def test_accepts_a_tuple_of_sans() -> None:
    assert covers(("a.example.com", "*.example.net"), "b.example.net")
    assert not covers((), "b.example.net")
