"""Which addresses the service may connect to: SSRF protection for targets registered over the API.

certwatch runs inside the deployer's AWS account; a registered target must not turn it into a
probe of private networks or the instance metadata service. Only globally routable unicast
addresses are allowed, plus whatever the operator lists in ``CERTWATCH_ALLOW_CIDRS``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from chalicelib.errors import ForbiddenAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


class AddressPolicy:
    """Allows globally routable unicast addresses and the ``allow`` networks; refuses the rest."""

    def __init__(self, allow: Iterable[IPNetwork] = ()) -> None:
        self._allow = tuple(allow)

    @classmethod
    def from_text(cls, text: str) -> AddressPolicy:
        """Parse ``CERTWATCH_ALLOW_CIDRS``: comma-separated CIDRs, blank for none."""
        networks = []
        for part in text.split(","):
            if part.strip():
                try:
                    networks.append(ipaddress.ip_network(part.strip(), strict=False))
                except ValueError as exc:
                    raise ValueError(f"CERTWATCH_ALLOW_CIDRS: {part.strip()!r} is not a CIDR") from exc
        return cls(networks)

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return self._allow

    def refusal(self, address: str) -> str | None:
        """Why ``address`` is refused (e.g. ``"loopback"``), or None when it may be contacted."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self._allow):
            return None
        return _classify(_unwrap(ip))

    def check(self, address: str) -> None:
        """Raise ForbiddenAddressError when ``address`` is refused."""
        reason = self.refusal(address)
        if reason is not None:
            raise ForbiddenAddressError(address, reason)


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv4-mapped, 6to4 or NAT64 IPv6 address, if any."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _classify(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (the cloud metadata service's range)"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "carrier-grade NAT (shared address space)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None
