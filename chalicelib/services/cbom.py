"""What ``GET /cbom`` describes: the teams' stored reports (as a scrape reads them) and, for who may see them,
the certificates held in ACM and IAM. Never a check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.inventory import ManagedCertificate
from chalicelib.domain.metrics import Watched
from chalicelib.domain.tokens import Principal
from chalicelib.services.ports import Inventory


@dataclass(frozen=True, slots=True)
class CbomSources:
    """What a CBOM is built from: every target of the teams asked for with its latest report, and the
    ACM/IAM certificates (none unless the caller may see them)."""

    watched: tuple[Watched, ...]
    managed: tuple[ManagedCertificate, ...]


class CbomService:
    """Reads what a CBOM shows, by the rules of the scrape (``watched``: the caller's team, ``?team=`` for an
    admin token, every team for an admin naming none) and of the inventory (``may_see_managed``)."""

    def __init__(
        self,
        watched: Callable[[Principal, str | None], list[Watched]],
        managed: Inventory,
        may_see_managed: Callable[[Principal], bool],
    ) -> None:
        self._watched = watched
        self._managed = managed
        self._may_see_managed = may_see_managed

    def sources(self, principal: Principal, requested: str | None) -> CbomSources:
        watched = tuple(self._watched(principal, requested))
        if not self._may_see_managed(principal):
            return CbomSources(watched, ())
        return CbomSources(watched, tuple(a.certificate for a in self._managed.list_managed()))
