from __future__ import annotations

import pytest

from chalicelib.addresses import AddressPolicy
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
