"""The Slack relay: each event the alerts topic delivers, posted to the team's Slack webhook."""

from __future__ import annotations

import logging
from typing import Protocol

from chalicelib.presentation.event_shapes import EventDocument, read_event

logger = logging.getLogger(__name__)


class SlackPoster(Protocol):
    def post_event(self, document: EventDocument) -> bool:
        """Post one event (rendered by the poster); False when there is nowhere to post (not configured)."""


class SlackRelay:
    """Posts each event the topic delivers to Slack."""

    def __init__(self, webhook: SlackPoster) -> None:
        self._webhook = webhook

    def deliver(self, message: str) -> bool:
        """Post the event document ``message``; SlackError when Slack refuses it for good."""
        try:
            document = read_event(message)
        except ValueError as exc:
            logger.error("not a certwatch event document; not posted: %s", exc)
            return False
        return self._webhook.post_event(document)
