"""Does a certificate's subjectAltName cover a name? RFC 6125 rules, no CN fallback."""

from __future__ import annotations

import ipaddress


def covers(sans: tuple[str, ...] | list[str], name: str) -> bool:
    """Whether any SAN entry covers ``name`` (a DNS name in A-label form, or an IP address).

    Wildcards follow RFC 6125 6.4.3 as browsers apply it: ``*`` only as the whole left-most
    label, matching exactly one label, never a public-suffix-like bare ``*.com`` pattern with
    fewer than three labels, and never an IP address.
    """
    address = _address(name)
    if address is not None:
        return any(_address(san) == address for san in sans)
    wanted = name.lower().rstrip(".")
    return any(_dns_match(san.lower().rstrip("."), wanted) for san in sans if _address(san) is None)


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
