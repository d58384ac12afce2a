"""The one error root of certwatch and its few subclasses.

Each boundary maps these by type (the CLI to exit status 3 and a message, the HTTP API to a
status code); nobody matches on message text.
"""

from __future__ import annotations

from chalicelib.models import FailureReason


class CertwatchError(Exception):
    """Root of every error certwatch raises on purpose."""


class InvalidTargetError(CertwatchError, ValueError):
    """A target could not be understood (bad syntax, unknown scheme, bad port)."""


class TrustStoreError(CertwatchError):
    """Trust anchors could not be loaded (missing file, no certificate in it)."""


class ForbiddenAddressError(CertwatchError):
    """A target names or resolves to an address the service must not contact (SSRF protection)."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(
            f"refused {address}: {reason}; certwatch only connects to public addresses "
            "unless CERTWATCH_ALLOW_CIDRS allows it"
        )
        self.address = address
        self.reason = reason


class ProbeError(CertwatchError):
    """A connection to an endpoint yielded no certificate; carries the reason."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
