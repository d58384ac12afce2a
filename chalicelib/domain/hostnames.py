"""Does a certificate's subjectAltName cover a name? RFC 6125 rules, no CN fallback."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence


def covers(dns_names: Sequence[str], name: str, ip_addresses: Sequence[str] = ()) -> bool:
    """Whether the SANs cover ``name`` (a DNS name in A-label form, or an IP address literal).

    An address is matched only by iPAddress SANs and a DNS name only by dNSName SANs (RFC 6125
    6.2.1 and 6.4). Wildcards follow RFC 6125 6.4.3 as browsers apply it: ``*`` only as the
    whole left-most label, matching exactly one label, never a bare ``*.com`` pattern.
    """
    address = _address(name)
    if address is not None:
        return any(_address(ip) == address for ip in ip_addresses)
    wanted = name.lower().rstrip(".")
    return any(_dns_match(pattern.lower().rstrip("."), wanted) for pattern in dns_names)


def _dns_match(pattern: str, name: str) -> bool:
    if not pattern.startswith("*."):
        return pattern == name
    suffix = pattern[1:]  # ".example.com"
    if suffix.count(".") < 2:  # "*.com" would cover a whole TLD
        return False
    head, dot, rest = name.partition(".")
    return bool(head) and bool(dot) and "." + rest == suffix


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
