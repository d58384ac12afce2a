"""The Slack relay: each event the alerts topic delivers, posted to the team's Slack webhook."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from chalicelib.errors import SlackError
from chalicelib.presentation.event_shapes import read_event
from chalicelib.services.ports import SlackPoster

logger = logging.getLogger(__name__)

CHANNEL = "slack"
# Events delivered and failed, by channel: what a relay tells its metrics.
Tally = Callable[[Mapping[str, int], Mapping[str, int]], None]


class SlackRelay:
    """Posts each event the topic delivers to Slack."""

    def __init__(self, webhook: SlackPoster) -> None:
        self._webhook = webhook

    def deliver(self, message: str, *, tally: Tally | None = None) -> bool:
        """Post the event document ``message``; SlackError when Slack refuses it for good.

        ``tally`` hears what became of it: delivered, or failed (refused, or no event document).
        """
        count = tally or _untold
        try:
            document = read_event(message)
        except ValueError as exc:
            logger.error("not a certwatch event document; not posted: %s", exc)
            count({}, {CHANNEL: 1})
            return False
        try:
            posted = self._webhook.post_event(document)
        except SlackError:
            count({}, {CHANNEL: 1})
            raise
        count({CHANNEL: int(posted)}, {})
        return posted


def _untold(delivered: Mapping[str, int], failed: Mapping[str, int]) -> None:
    """A tally nobody reads."""
