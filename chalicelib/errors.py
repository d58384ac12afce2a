"""The one error root of certwatch and its few subclasses.

Each boundary maps these by type (the CLI to exit status 3 and a message, the HTTP API to a
status code); nobody matches on message text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the error root imports nothing: `certwatch --help` and the authorizer load it first
    from chalicelib.domain.models import FailureReason


class CertwatchError(Exception):
    """Root of every error certwatch raises on purpose."""


class InvalidTargetError(CertwatchError, ValueError):
    """A target could not be understood (bad syntax, unknown scheme, bad port)."""


class TrustStoreError(CertwatchError):
    """Trust anchors could not be loaded (missing file, no certificate in it)."""


class ForbiddenAddressError(CertwatchError):
    """A target names or resolves to an address the service must not contact (SSRF protection)."""

    def __init__(self, address: str, reason: str, *, ipv4: str | None = None) -> None:
        carried = f" (IPv4 {ipv4})" if ipv4 else ""
        super().__init__(
            f"refused {address}{carried}: {reason}; certwatch only connects to public addresses "
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


class InvalidValueError(CertwatchError):
    """A value given to certwatch is not one it takes (``field`` names it when there is one).

    Raised wherever the value is judged (the domain, a service, the settings, the CLI); the edge
    that received it says so its own way: the HTTP API as a 400 naming the field, the CLI as one line.
    """

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid_field") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


class InvalidRequestError(InvalidValueError):
    """A request to the HTTP API is malformed: its body, its query string or one of their fields."""


class PayloadTooLargeError(CertwatchError):
    """A request body is larger than the API accepts."""


class UnauthorizedError(CertwatchError):
    """No token, or one that is unknown or revoked."""


class PermissionDeniedError(CertwatchError):
    """The token is valid but may not do this (a team token acting on another team)."""


class NotFoundError(CertwatchError):
    """No such target for this team (another team's target looks exactly like this)."""


class DuplicateTargetError(CertwatchError):
    """The team already watches this host, port, protocol and SNI; ``existing_id`` is that target."""

    def __init__(self, existing_id: str) -> None:
        super().__init__(f"this endpoint is already registered as target {existing_id}")
        self.existing_id = existing_id


class DuplicateDomainError(DuplicateTargetError):
    """The team already watches this domain; ``existing_id`` is that watched domain."""

    def __init__(self, existing_id: str) -> None:
        CertwatchError.__init__(self, f"this domain is already watched as {existing_id}")
        self.existing_id = existing_id


class ThrottledError(CertwatchError):
    """A backing service is throttling; the caller should retry later."""


class StoreError(CertwatchError):
    """The data store failed in a way the caller cannot fix."""


class ConfigurationError(CertwatchError):
    """certwatch is not configured for what was asked (a missing table, queue or setting)."""


class PublishError(CertwatchError):
    """SNS did not take a notification; it stays in the outbox for the next run."""


class SlackError(CertwatchError):
    """Slack did not take a message (after the retries a transient failure deserves)."""


class WebhookError(CertwatchError):
    """A webhook destination did not take an event, or cannot be one (its URL is never in the message)."""


class SourceError(CertwatchError):
    """ACM or IAM refused or failed a request for a reason other than throttling (access denied, ...)."""


class SettingError(ConfigurationError):
    """A setting (an environment variable) has a value certwatch cannot use; says which and what is allowed."""

    def __init__(self, name: str, value: str, allowed: str, *, secret: bool = False) -> None:
        shown = f"<{len(value)} characters, not shown>" if secret else repr(value)
        super().__init__(f"{name}={shown} is not allowed: {allowed}")
        self.name = name
        self.value = value


class FetchError(CertwatchError):
    """A URL a certificate names (CRL, OCSP, ACME) could not be fetched, or was refused."""


class RateLimitedError(FetchError):
    """A CT or RDAP server asked to wait (HTTP 429); ``retry_after`` is how long, in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
