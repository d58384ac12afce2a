"""Webhooks: each event the alerts topic publishes, POSTed to every destination that wants it, once.

alerts topic -> webhooks function -> for each destination whose filters take the event: claim
the delivery (the outbox key extended with the destination), POST it in the destination's
format with retries, mark it delivered. A destination that fails releases its claim and fails
the invocation after the others are done, so Lambda retries it (twice) and then hands the event
to the notify dead-letter queue; the destinations already served are skipped on every retry.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.models import Severity
from chalicelib.domain.tokens import validate_team
from chalicelib.domain.webhooks import (
    Claim,
    Destination,
    Format,
    WebhookUrl,
    check_routing_key,
    event_types,
    new_destination_id,
    new_secret,
    parse_url,
    secret_key,
)
from chalicelib.errors import CertwatchError, InvalidValueError, WebhookError
from chalicelib.presentation.event_shapes import EventDocument, read_event
from chalicelib.services.ports import DeliveryLog, DestinationSource, Poster
from chalicelib.services.slack_relay import Tally

logger = logging.getLogger(__name__)

# How long a claim holds before another invocation may take it over: the webhooks function's
# timeout (.chalice/config.json), so a claim of an invocation that died is free by Lambda's retry.
CLAIM_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What became of one event: destination ids by outcome, and how many destinations' filters passed it by."""

    delivered: tuple[str, ...] = ()
    already: tuple[str, ...] = ()  # delivered by an earlier invocation
    failed: tuple[str, ...] = ()
    filtered: int = 0


class WebhookRelay:
    """Delivers events to the webhook destinations, each event once per destination."""

    def __init__(
        self,
        destinations: DestinationSource,
        log: DeliveryLog,
        poster: Poster,
        clock: Callable[[], datetime],
        *,
        threads: int = 8,
    ) -> None:
        self._destinations = destinations
        self._log = log
        self._poster = poster
        self._clock = clock
        self._threads = threads

    def deliver(self, message: str, *, tally: Tally | None = None) -> DeliveryReport:
        """Deliver the event document ``message``; WebhookError naming the destinations that did not take it.

        ``tally`` hears, before any WebhookError, how many destinations took it and how many did not, by format.
        """
        try:
            document = read_event(message)
        except ValueError as exc:
            logger.error("not a certwatch event document; not delivered: %s", exc)
            return DeliveryReport()
        every = self._destinations.destinations()
        wanted = [d for d in every if d.wants(document.team, document.type, document.severity)]
        outcomes: dict[str, list[str]] = {"delivered": [], "already": [], "failed": []}
        by_format: dict[str, Counter[str]] = {"delivered": Counter(), "failed": Counter()}
        if wanted:
            with ThreadPoolExecutor(max_workers=min(self._threads, len(wanted))) as pool:
                for destination, outcome in zip(
                    wanted, pool.map(lambda d: self._once(d, document), wanted), strict=True
                ):
                    outcomes[outcome].append(destination.id)
                    by_format.get(outcome, Counter())[destination.format.value] += 1
        if tally is not None:
            tally(by_format["delivered"], by_format["failed"])
        report = DeliveryReport(
            delivered=tuple(outcomes["delivered"]),
            already=tuple(outcomes["already"]),
            failed=tuple(outcomes["failed"]),
            filtered=len(every) - len(wanted),
        )
        logger.info(
            "event %s: %d webhook(s) delivered, %d already, %d failed, %d filtered out",
            document.id,
            len(report.delivered),
            len(report.already),
            len(report.failed),
            report.filtered,
        )
        if report.failed:
            raise WebhookError(
                f"{len(report.failed)} of {len(wanted)} webhook(s) did not take event {document.id}: "
                f"{', '.join(report.failed)} (retried with the function, then the notify dead-letter queue)"
            )
        return report

    def _once(self, destination: Destination, document: EventDocument) -> str:
        key = document.id
        now = self._clock()
        claim = self._log.claim(destination.id, key, now, now + CLAIM_LEASE)
        if claim is Claim.DELIVERED:
            return "already"
        if claim is Claim.BUSY:
            logger.warning("webhook %s: event %s is being delivered by another invocation", destination.id, key)
            return "failed"  # retried later, when that delivery is done (or its lease ran out)
        try:
            self._poster.deliver(destination, document)
        except CertwatchError as exc:
            problem = str(exc)
        except Exception as exc:  # whatever else went wrong, the claim is given back (by type: no URL in a log)
            problem = f"unexpected {type(exc).__name__}"
        else:
            self._log.delivered(destination.id, key, self._clock())
            return "delivered"
        logger.warning("webhook %s did not take event %s: %s", destination.id, key, problem)
        self._log.release(destination.id, key, self._clock())
        return "failed"


def new_destination(
    url: str,
    *,
    format: Format = Format.GENERIC,
    secret: str | None = None,
    routing_key: str | None = None,
    team: str | None = None,
    min_severity: str = "info",
    types: Sequence[str] = (),
    vet: Callable[[WebhookUrl], object],
    now: datetime,
) -> Destination:
    """A destination checked as `certwatch webhook add` takes it; ``vet`` judges the URL's addresses (SSRF).

    Generic destinations get a fresh signing secret unless one is given; PagerDuty ones need the
    routing key; Teams ones need nothing but their URL.
    """
    parsed = parse_url(url)
    if routing_key is not None and format is not Format.PAGERDUTY:
        raise InvalidValueError("--routing-key is for --format pagerduty only", field="routing_key")
    if secret is not None and format is not Format.GENERIC:
        raise InvalidValueError("--secret is for --format generic only (it signs the request)", field="secret")
    if format is Format.PAGERDUTY:
        if routing_key is None:
            raise InvalidValueError("--format pagerduty needs --routing-key", field="routing_key")
        key = check_routing_key(routing_key)
    elif format is Format.TEAMS:
        key = ""
    else:
        key = new_secret() if secret is None else secret
        secret_key(key)
    try:
        severity = Severity(min_severity)
    except ValueError:
        raise InvalidValueError("--min-severity is info, warning or critical", field="min_severity") from None
    destination = Destination(
        id=new_destination_id(),
        format=format,
        url=parsed,
        secret=key,
        team=None if team is None else validate_team(team),
        min_severity=severity,
        types=event_types(list(types)),
        created_at=now,
    )
    vet(parsed)
    return destination
