"""What a scrape of ``GET /metrics`` covers: the teams' targets and their stored reports, never a new check."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.domain.metrics import Watched
from chalicelib.domain.targets import Target, TargetFilter
from chalicelib.domain.tokens import Principal

if TYPE_CHECKING:
    from chalicelib.services.ports import Results, Targets, Tokens

# Targets read per Query: DynamoDB's own page limit (1 MB) is what stops one page first.
PAGE = 1000


class MetricsService:
    """Reads what a scrape shows; ``team_for`` is the registry's rule for ``?team=``."""

    def __init__(
        self,
        *,
        targets: Targets,
        results: Results,
        tokens: Tokens,
        team_for: Callable[[Principal, str | None], str],
    ) -> None:
        """A scrape reads a team's targets, their latest reports, and (for an admin) the teams tokens name."""
        self._targets = targets
        self._results = results
        self._tokens = tokens
        self._team_for = team_for

    def teams(self, principal: Principal, requested: str | None) -> list[str]:
        """The caller's team, or the one named (``?team=``: admin tokens only); every team for an admin naming none.

        Every team is every team a token was issued to (``certwatch token list``): a team without one is
        scraped by naming it.
        """
        if principal.admin and requested is None:
            return sorted({record.team for record in self._tokens.list_tokens()} | {principal.team})
        return [self._team_for(principal, requested)]

    def watched(self, principal: Principal, requested: str | None) -> list[Watched]:
        """Every target of the teams scraped, with its latest report (None before its first check)."""
        return [one for team in self.teams(principal, requested) for one in self._team(team)]

    def _team(self, team: str) -> list[Watched]:
        targets: list[Target] = []
        cursor: str | None = None
        while True:
            page = self._targets.list_targets(team, limit=PAGE, cursor=cursor, where=TargetFilter())
            targets += page.items
            cursor = page.cursor
            if cursor is None:
                break
        reports = self._results.team_reports(team) if targets else {}
        return [Watched(target, reports.get(target.id)) for target in targets]
