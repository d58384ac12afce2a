"""Turning what a user pastes (``example.com``, ``smtp://mail.example.com``, ...) into an Endpoint."""

from __future__ import annotations

import ipaddress
import re

import idna

from chalicelib.domain.addresses import address_text
from chalicelib.domain.models import Endpoint, Protocol
from chalicelib.errors import InvalidTargetError

DEFAULT_PORTS: dict[Protocol, int] = {
    Protocol.HTTPS: 443,
    Protocol.SMTP: 25,
    Protocol.SUBMISSION: 587,
    Protocol.SMTPS: 465,
    Protocol.IMAP: 143,
    Protocol.IMAPS: 993,
    Protocol.POP3: 110,
    Protocol.POP3S: 995,
    Protocol.FTP: 21,
    Protocol.LDAPS: 636,
    Protocol.POSTGRES: 5432,
}

_SCHEME_ALIASES = {"postgresql": Protocol.POSTGRES}
_SCHEMES = {p.value: p for p in Protocol} | _SCHEME_ALIASES
PROTOCOLS = frozenset(_SCHEMES)
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")  # ASCII digits: str.isdigit() takes "²", which int() refuses
_CANNOT_READ = "cannot read target {!r}: expected host, host:port or scheme://host[:port]"
_BEFORE_COLON = re.compile(r"(?P<word>[^:/?#\[\]\\]+):(?P<rest>.*)", re.DOTALL)
_LEADING_PORT = re.compile(r"[0-9]+(?:[/?#].*)?", re.DOTALL)
_TARGET = re.compile(
    r"""(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://)?
        (?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:/?#\[\]]+))
        (?::(?P<port>[^/?#]*))?
        (?:[/?#].*)?""",
    re.VERBOSE,
)


def parse_target(text: str, *, sni: str | None = None) -> Endpoint:
    """Parse one TARGET: ``host``, ``host:port``, ``scheme://host[:port][/path]``, ``[v6]:port``.

    Raises InvalidTargetError with a message fit to show the user.
    """
    raw = text.strip()
    if not raw:
        raise InvalidTargetError("empty target")
    if _is_bare_ipv6(raw):
        return _endpoint(raw, None, Protocol.HTTPS, sni, raw)
    _refuse_slashes_amiss(raw)
    match = _TARGET.fullmatch(raw)
    if match is None or ("://" in raw and match["scheme"] is None):
        raise InvalidTargetError(_CANNOT_READ.format(raw))
    # Without a scheme, a port other than HTTPS's says "TLS on that port" (tls://), as documented.
    port = match["port"]
    bare = "tls" if port and _PORT.fullmatch(port) and int(port) != DEFAULT_PORTS[Protocol.HTTPS] else "https"
    scheme = (match["scheme"] or bare).lower()
    protocol = _SCHEMES.get(scheme)
    if protocol is None:
        known = ", ".join(sorted(_SCHEMES))
        raise InvalidTargetError(f"unsupported scheme {scheme!r} in {raw!r}; use one of: {known}")
    host = match["v6"] if match["v6"] is not None else match["host"]
    return _endpoint(host, match["port"], protocol, sni, raw)


def _refuse_slashes_amiss(raw: str) -> None:
    """Refuse ``https:/host``, ``https:///host``, ``https:host``: a scheme is followed by exactly ``//``.

    Browsers (WHATWG URL Standard, special schemes) read each of these as ``https://host/``, but
    here the same colon also parts host from port: ``https:/127.0.0.1`` would read as the host
    ``https``. What was meant is likely, not certain: refuse, and show the spelling that works.
    A colon followed by a slash after anything else (``example.com:/path``) is no form at all.
    """
    match = _BEFORE_COLON.fullmatch(raw)
    if match is None:
        return
    word, rest = match["word"], match["rest"]
    after = rest.lstrip("/\\")
    if rest[: len(rest) - len(after)] == "//":
        return
    scheme = word.lower()
    if scheme in _SCHEMES:
        if not after:
            shown = f"{scheme}://HOST"
        elif _LEADING_PORT.fullmatch(after):
            shown = f"{scheme}://HOST:{after}"
        else:
            shown = f"{scheme}://{after}"
        raise InvalidTargetError(f"cannot read target {raw!r}: a scheme takes two slashes, as in {shown}")
    if rest != after:
        raise InvalidTargetError(_CANNOT_READ.format(raw))


def endpoint_from_parts(host: str, port: int | None, protocol: str = "https", sni: str | None = None) -> Endpoint:
    """Build an Endpoint from separate fields (the API's ``{"host", "port", "protocol"}`` form)."""
    chosen = _SCHEMES.get(protocol.lower())
    if chosen is None:
        raise InvalidTargetError(f"unsupported protocol {protocol!r}")
    return _endpoint(host.strip().strip("[]"), None if port is None else str(port), chosen, sni, host)


def _endpoint(host: str, port_text: str | None, protocol: Protocol, sni: str | None, raw: str) -> Endpoint:
    address = _as_address(host)
    if address is None:
        host = normalize_hostname(host, what="host", raw=raw)
        address = _numeric_ipv4(host, raw)
    port = _parse_port(port_text, protocol, raw)
    name = normalize_hostname(sni, what="SNI name", raw=sni) if sni else None
    if name == host and address is None:
        name = None  # the name a host sends anyway: the same endpoint as without it
    return Endpoint(host=address or host, port=port, protocol=protocol, sni=name, host_is_address=address is not None)


def normalize_hostname(name: str, *, what: str = "host", raw: str | None = None) -> str:
    """Lower-case A-label form of a DNS name, trailing dot removed; rejects what is no name.

    A name is read as browsers read it (UTS #46 non-transitional processing, IDNA 2008, as in the
    WHATWG URL Standard): mapped first (case, full-width forms, ``。``), then each label that is
    not ASCII must be a valid IDNA 2008 U-label and becomes its A-label, so ``faß.de`` is
    ``xn--fa-hia.de``, never ``fass.de``. An ASCII label is checked by ``_LABEL`` alone, which
    allows what IDNA 2008 does not: ``_`` (``_dmarc``, internal names) and ``--`` in third and
    fourth place (browsers skip that check too). An ``xn--`` label must be a valid A-label.
    """
    shown = raw if raw is not None else name
    try:
        mapped = idna.uts46_remap(name.strip(), std3_rules=False)  # deviations (ß, ς, ZWJ) are kept
    except ValueError as exc:  # idna.IDNAError is one: a code point UTS #46 disallows
        raise InvalidTargetError(f"invalid {what} in {shown!r}: {exc}") from exc
    labels = [_a_label(label, what, shown) for label in mapped.rstrip(".").split(".")]
    candidate = ".".join(labels)
    problem = _name_problem(candidate, labels)
    if problem is not None:
        raise InvalidTargetError(f"invalid {what} in {shown!r}: {problem}")
    return candidate


def _a_label(label: str, what: str, shown: str) -> str:
    """One mapped label as it goes on the wire: ASCII as it is, any other label as its A-label."""
    if label.isascii() and not label.startswith("xn--"):
        return label
    try:
        return idna.alabel(label).decode("ascii")
    except ValueError as exc:  # idna.IDNAError and its kinds: code point, CONTEXTJ/O, Bidi, Punycode
        if label.isascii():
            problem = f"{label!r} is no valid A-label ({exc})"
        elif getattr(exc, "code", None) in ("label_too_long", "input_too_long"):
            problem = f"label {label!r} is longer than 63 characters as an A-label"
        elif isinstance(exc, idna.IDNABidiError):
            problem = f"label {label!r} breaks the bidirectional text rule of IDNA 2008 ({exc})"
        else:
            problem = f"label {label!r} is not allowed by IDNA 2008 ({exc})"
        raise InvalidTargetError(f"invalid {what} in {shown!r}: {problem}") from exc


def _name_problem(name: str, labels: list[str]) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > 253:
        return "it is longer than 253 characters"
    for label in labels:
        if not label:
            return "it has an empty label"
        if len(label) > 63:
            return f"label {label!r} is longer than 63 characters"
        if not _LABEL.fullmatch(label):
            return f"label {label!r} may hold only letters, digits, '-' and '_', and no '-' at either end"
    return None


def _parse_port(text: str | None, protocol: Protocol, raw: str) -> int:
    if text is None or text == "":
        default = DEFAULT_PORTS.get(protocol)
        if default is None:
            raise InvalidTargetError(f"{protocol.value}:// needs a port, e.g. {protocol.value}://host:8443")
        return default
    if not _PORT.fullmatch(text) or not 0 < int(text) < 65536:
        raise InvalidTargetError(f"invalid port {text!r} in {raw!r}: expected 1-65535")
    return int(text)


def _as_address(host: str) -> str | None:
    try:
        return address_text(ipaddress.ip_address(host))
    except ValueError:
        return None


def _numeric_ipv4(name: str, raw: str) -> str | None:
    """The IPv4 address a normalized name spells (``127.1``, ``2130706433``, ``0x7f.1``), or None.

    The system resolver reads these forms as addresses (inet_aton), so they are addresses here
    too, for duplicates and for the address policy alike. WHATWG URL Standard, host parsing: a
    host whose last label is a number is an IPv4 address or invalid; full-width digits and dots
    are already ASCII after the UTS #46 mapping.
    """
    parts = name.split(".")
    if not (parts[-1].isascii() and parts[-1].isdigit()) and _ipv4_number(parts[-1]) is None:
        return None
    numbers = [_ipv4_number(part) for part in parts]
    last = numbers[-1]
    if (
        len(numbers) > 4
        or last is None
        or last >= 256 ** (5 - len(numbers))
        or any(number is None or number > 255 for number in numbers[:-1])
    ):
        raise InvalidTargetError(f"invalid host in {raw!r}: a host ending in a number must be an IPv4 address")
    return str(ipaddress.IPv4Address(sum((number or 0) << 8 * (3 - i) for i, number in enumerate(numbers[:-1])) + last))


def _ipv4_number(part: str) -> int | None:
    """One part of a numeric IPv4 host: decimal, ``0x`` hexadecimal or ``0``-led octal (WHATWG)."""
    radix = 10
    if part.startswith("0x"):
        part, radix = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        part, radix = part[1:], 8
    if not all(digit in "0123456789abcdef"[:radix] for digit in part):
        return None
    return int(part, radix) if part else 0


def _is_bare_ipv6(raw: str) -> bool:
    return raw.count(":") >= 2 and "://" not in raw and not raw.startswith("[") and _as_address(raw) is not None
