"""The webhook destinations of a stage, read from SSM Parameter Store: one SecureString each.

``/certwatch/<stage>/webhooks/<id>`` holds a destination as JSON: its format, URL, secret
(signing secret or routing key) and filters. URL and secret are secrets, so the whole record is
encrypted at rest (KMS) and nothing of it but the id and host reaches a log. The webhooks
function reads the path once a minute at most; the operator's `certwatch webhook` commands
write it (certwatch/aws/destination_admin.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import THROTTLING, error_code, pages
from chalicelib.domain.models import Severity
from chalicelib.domain.webhooks import Destination, Format, event_types, is_destination_id, parse_url
from chalicelib.errors import CertwatchError, ConfigurationError, StoreError, ThrottledError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

logger = logging.getLogger(__name__)


class SsmDestinations:
    """Every destination under ``path`` (cached ``max_age`` seconds); takes a boto3 SSM client."""

    def __init__(
        self, client: SSMClient, path: str, *, max_age: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._path = path.rstrip("/")
        self._max_age = max_age
        self._clock = clock
        self._cached: tuple[float, list[Destination]] | None = None

    def destinations(self) -> list[Destination]:
        """The destinations, by id; one that cannot be read is left out (and logged by name), never fatal."""
        if self._cached is not None and self._clock() - self._cached[0] < self._max_age:
            return self._cached[1]
        found = []
        for name, value in self._parameters():
            try:
                found.append(destination_from_json(value))
            except (CertwatchError, ValueError, KeyError, TypeError) as exc:
                logger.error("webhook parameter %s cannot be read; it is skipped (%s)", name, type(exc).__name__)
        found.sort(key=lambda d: d.id)
        self._cached = (self._clock(), found)
        return found

    def _parameters(self) -> list[tuple[str, str]]:
        request = {"Path": self._path, "Recursive": False, "WithDecryption": True}
        try:
            found = pages(self._client.get_parameters_by_path, "NextToken", "NextToken", **request)
            return [(p["Name"], p["Value"]) for page in found for p in page.get("Parameters", [])]
        except ClientError as exc:
            raise _translate(exc) from exc
        except BotoCoreError as exc:
            raise StoreError(f"SSM could not be reached: {type(exc).__name__}") from exc


def parameter_name(path: str, destination_id: str) -> str:
    return f"{path.rstrip('/')}/{destination_id}"


def destination_to_json(destination: Destination) -> str:
    document: dict[str, Any] = {
        "id": destination.id,
        "format": destination.format.value,
        "url": destination.url.text,
        "secret": destination.secret,
        "team": destination.team,
        "min_severity": destination.min_severity.value,
        "types": sorted(t.value for t in destination.types),
        "created_at": None if destination.created_at is None else destination.created_at.isoformat(),
    }
    return json.dumps(document, separators=(",", ":"))


def destination_from_json(text: str) -> Destination:
    data = json.loads(text)
    if not is_destination_id(data["id"]):
        raise ValueError("not a destination id")
    created = data.get("created_at")
    return Destination(
        id=data["id"],
        format=Format(data["format"]),
        url=parse_url(data["url"]),
        secret=str(data.get("secret") or ""),
        team=data.get("team"),
        min_severity=Severity(data.get("min_severity", "info")),
        types=event_types(data.get("types")),
        created_at=None if created is None else datetime.fromisoformat(created),
    )


def _translate(exc: ClientError) -> CertwatchError:
    code = error_code(exc)
    if code in THROTTLING or code == "TooManyUpdates":
        return ThrottledError("SSM is throttling requests; retry shortly")
    if code == "AccessDeniedException":
        return ConfigurationError("SSM refused to read the webhook destinations (AccessDenied): check the role")
    return StoreError(f"SSM failed: {code or exc}")
