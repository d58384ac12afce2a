"""Which addresses the service may connect to: SSRF protection for targets registered over the API.

certwatch runs inside the deployer's AWS account; a registered target must not turn it into a
probe of private networks or the instance metadata service. Only globally routable unicast
addresses are allowed, plus whatever the operator lists in ``CERTWATCH_ALLOW_CIDRS``.

The answer and its wording must not depend on the Python that runs the service: Python 3.12
and 3.13 print IPv4-mapped addresses differently and disagree on a few special-purpose blocks
(and neither knows every block IANA lists), so those are spelled and decided here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from chalicelib.errors import ForbiddenAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")

# Blocks decided here rather than by ipaddress's tables (IANA IPv4/IPv6 Special-Purpose Address
# Registries): 3.12 passes 192.0.0.8-255 and 64:ff9b:1::/48 as global, 3.13 passes a few
# addresses inside 192.0.0.0/24 and 2001::/23 that 3.12 refuses, and both pass fec0::/10 and
# 3fff::/20. None of these serves a public certificate: refused whole, on every Python.
_NOT_GLOBAL: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.IPv4Network("192.0.0.0/24"), "IETF protocol assignment (not globally routable)"),
    (ipaddress.IPv6Network("2001::/23"), "IETF protocol assignment (not globally routable)"),
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"),
    (ipaddress.IPv6Network("fec0::/10"), "site-local (deprecated by RFC 3879)"),
    (ipaddress.IPv6Network("3fff::/20"), "documentation (RFC 9637)"),
)


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
        ip = _parse(address)
        if any(ip in network for network in self._allow):
            return None
        return _classify(_unwrap(ip))

    def check(self, address: str) -> None:
        """Raise ForbiddenAddressError when ``address`` is refused, naming the IPv4 address it carries."""
        reason = self.refusal(address)
        if reason is not None:
            ip = _parse(address)
            carried = _unwrap(ip)
            raise ForbiddenAddressError(address, reason, ipv4=None if carried is ip else str(carried))


def address_text(ip: IPAddress) -> str:
    """The one spelling of an address (RFC 5952), on every Python.

    An IPv4-mapped address keeps its IPv4 part in dotted form (RFC 4291 2.5.5.2), as Python 3.13
    prints it; 3.12 prints ``::ffff:a00:1`` for ``::ffff:10.0.0.1``.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}" + (f"%{ip.scope_id}" if ip.scope_id else "")
    return str(ip)


def _parse(address: str) -> IPAddress:
    return ipaddress.ip_address(address.split("%", 1)[0])


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
    for network, reason in _NOT_GLOBAL:
        if ip in network:
            return reason
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
