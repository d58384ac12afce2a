from __future__ import annotations

import ipaddress

import pytest

from chalicelib.domain.addresses import AddressPolicy, address_text
from chalicelib.errors import ForbiddenAddressError


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.1.2.3", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("192.0.2.1", "private"),  # documentation range
        ("198.18.0.1", "private"),  # benchmarking range
        ("2001:db8::1", "private"),  # documentation range
        # IPv6 spellings of forbidden IPv4 addresses
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        # ranges Python's ipaddress passes as global (on some or all supported versions)
        ("fec0::1", "site-local"),  # deprecated by RFC 3879
        ("fefe::1", "site-local"),
        ("3fff::1", "documentation"),  # RFC 9637
        ("3fff:fff:ffff::1", "documentation"),
        ("192.0.0.8", "IETF protocol assignment"),  # global on 3.12.1
        ("192.0.0.171", "IETF protocol assignment"),
        ("::ffff:192.0.0.8", "IETF protocol assignment"),
        ("64:ff9b:1::a9fe:a9fe", "local-use NAT64"),  # RFC 8215; global on 3.12.1
    ],
)
def test_refuses_every_non_global_address_class(address: str, reason: str) -> None:
    policy = AddressPolicy()
    refusal = policy.refusal(address)
    assert refusal is not None
    assert refusal.startswith(reason)
    with pytest.raises(ForbiddenAddressError, match="CERTWATCH_ALLOW_CIDRS") as raised:
        policy.check(address)
    assert raised.value.address == address


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"])
def test_allows_global_unicast(address: str) -> None:
    assert AddressPolicy().refusal(address) is None
    AddressPolicy().check(address)


def test_allow_cidrs_open_exactly_their_networks() -> None:
    policy = AddressPolicy.from_text(" 127.0.0.0/8, ::1/128 ,10.20.0.0/16")
    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("::1") is None
    assert policy.refusal("10.20.3.4") is None
    assert policy.refusal("10.21.0.1") == "private"
    assert policy.refusal("169.254.169.254") is not None


def test_blank_allow_list_allows_nothing_extra() -> None:
    assert AddressPolicy.from_text("").allowed_networks == ()
    assert AddressPolicy.from_text(" , ").refusal("127.0.0.1") == "loopback"


def test_a_malformed_cidr_is_named() -> None:
    with pytest.raises(ValueError, match="not-a-cidr"):
        AddressPolicy.from_text("127.0.0.0/8,not-a-cidr")


@pytest.mark.parametrize(
    "address",
    [
        # global on 3.13 (IANA's exceptions inside 192.0.0.0/24 and 2001::/23), private on 3.12.1:
        # refused on both, so one deployment answers the same whatever Python runs it
        "192.0.0.9",
        "192.0.0.10",
        "2001:1::1",
        "2001:1::2",
        "2001:3::1",
        "2001:4:112::1",
        "2001:20::1",
        "2001:30::1",
        "2001:2::1",  # benchmarking: private on both
    ],
)
def test_protocol_assignment_blocks_are_refused_whole_on_every_python(address: str) -> None:
    assert AddressPolicy().refusal(address) == "IETF protocol assignment (not globally routable)"


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1 (IPv4 10.0.0.1): private"),
        ("::ffff:169.254.169.254", "::ffff:169.254.169.254 (IPv4 169.254.169.254): link-local"),
        ("2002:a00:1::", "2002:a00:1:: (IPv4 10.0.0.1): private"),
        ("64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe (IPv4 169.254.169.254): link-local"),
        ("64:ff9b::169.254.169.254", "64:ff9b::169.254.169.254 (IPv4 169.254.169.254): link-local"),
        ("10.0.0.1", "10.0.0.1: private"),
        ("fc00::1", "fc00::1: private"),
    ],
)
def test_a_refusal_names_the_address_as_given_and_the_ipv4_address_it_carries(address: str, shown: str) -> None:
    with pytest.raises(ForbiddenAddressError) as raised:
        AddressPolicy().check(address)
    assert str(raised.value).startswith(f"refused {shown}")
    assert raised.value.address == address


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),  # 3.12's str() gives ::ffff:a00:1
        ("::FFFF:a00:1", "::ffff:10.0.0.1"),
        ("0:0:0:0:0:ffff:7f00:1", "::ffff:127.0.0.1"),
        ("::ffff:0.0.0.0", "::ffff:0.0.0.0"),
        ("::ffff:10.0.0.1%eth0", "::ffff:10.0.0.1%eth0"),
        ("2002:0a00:0001::", "2002:a00:1::"),
        ("64:ff9b::169.254.169.254", "64:ff9b::a9fe:a9fe"),
        ("::10.0.0.1", "::a00:1"),  # IPv4-compatible (deprecated): plain hex, as on every version
        ("2001:DB8::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1%eth0"),
    ],
)
def test_an_address_is_spelled_one_way_on_every_python(text: str, spelled: str) -> None:
    assert address_text(ipaddress.ip_address(text)) == spelled
