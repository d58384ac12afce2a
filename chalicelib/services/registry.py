"""The target registry service: what the HTTP API does, apart from HTTP.

Every method takes the calling Principal and enforces team scoping: a team sees only its own
targets (another team's looks exactly like a missing one); an admin may name any team.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.inventory import DiscoveredEndpoint
from chalicelib.domain.models import Endpoint, TargetReport, check_thresholds
from chalicelib.domain.schedule import FIRST_GRACE
from chalicelib.domain.targets import (
    BulkOutcome,
    Page,
    RejectedRow,
    Target,
    TargetChanges,
    TargetFilter,
    TargetSpec,
    apply_changes,
    endpoint_key,
    is_target_id,
    new_target_id,
)
from chalicelib.domain.teams import TeamSettings
from chalicelib.domain.tokens import Principal, pasted_token_id, validate_team
from chalicelib.errors import (
    CertwatchError,
    ConfigurationError,
    DuplicateTargetError,
    ForbiddenAddressError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    ProbeError,
    StoreError,
    ThrottledError,
)
from chalicelib.services.ports import Checker, CheckQueue, EndpointFinder, Resolver, Results, Targets, Teams

REGISTRATION_DNS_TIMEOUT = 3.0
# Rows of a bulk import in flight at once: their DNS lookups and writes overlap.
BULK_THREADS = 32
# A bulk import starts no row with less time left than this: the row's DNS lookup may take
# REGISTRATION_DNS_TIMEOUT, then the created rows' first checks are queued and the answer sent.
BULK_RESERVE_SECONDS = 6.0
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Discovery:
    """What discovery found, what became of those it registered (row n is ``found[n-1]``), what it could not read."""

    found: tuple[DiscoveredEndpoint, ...]
    outcomes: tuple[BulkOutcome, ...]
    failures: tuple[tuple[str, str, str], ...]


class TargetRegistry:
    """Registers, lists, changes and removes targets; runs checks on request."""

    def __init__(
        self,
        *,
        targets: Targets,
        results: Results,
        teams: Teams,
        queue: CheckQueue,
        checker: Callable[[], Checker],
        resolver: Resolver,
        address_policy: AddressPolicy,
        clock: Callable[[], datetime],
        finder: Callable[[], EndpointFinder] | None = None,
        new_id: Callable[[], str] = new_target_id,
    ) -> None:
        self._targets = targets
        self._results = results
        self._teams = teams
        self._queue = queue
        self._checker = checker
        self._resolver = resolver
        self._policy = address_policy
        self._clock = clock
        self._finder = finder
        self._new_id = new_id

    def register(
        self, principal: Principal, spec: TargetSpec, *, team: str | None = None, source: str = "api"
    ) -> Target:
        """Register one target (409 on a duplicate) and ask for its first check."""
        target = self._create(self.team_for(principal, team), spec, source)
        self._ask_for_checks([(target.team, target.id)])
        return target

    def register_bulk(
        self,
        principal: Principal,
        rows: Sequence[TargetSpec | RejectedRow],
        *,
        team: str | None = None,
        time_left: Callable[[], float] | None = None,
    ) -> list[BulkOutcome]:
        """Register many rows, each on its own, and queue every created row's first check.

        Whatever happens to a row (refused, a duplicate, a store failure) is that row's outcome
        and never touches the others. A row starts only while ``time_left()`` (seconds) leaves
        BULK_RESERVE_SECONDS; the rest are reported ``not_processed``, to be sent again.
        """
        return self._register_many(self.team_for(principal, team), [(row, "bulk") for row in rows], time_left)

    def _register_many(
        self,
        owner: str,
        rows: Sequence[tuple[TargetSpec | RejectedRow, str]],
        time_left: Callable[[], float] | None = None,
    ) -> list[BulkOutcome]:
        outcomes: dict[int, BulkOutcome] = {}
        # Rows naming an endpoint an earlier row names wait for a later wave, so they meet it as a
        # duplicate instead of racing it.
        waves: list[list[tuple[int, TargetSpec, str]]] = []
        seen: Counter[str] = Counter()
        for number, (spec, source) in enumerate(rows, start=1):
            if isinstance(spec, RejectedRow):
                outcomes[number] = BulkOutcome(number, "rejected", error_code=spec.code, reason=spec.reason)
                continue
            earlier = seen[endpoint_key(spec.endpoint)]
            seen[endpoint_key(spec.endpoint)] += 1
            if earlier == len(waves):
                waves.append([])
            waves[earlier].append((number, spec, source))
        # Concurrently: each row waits on its own DNS lookup and its own write.
        with ThreadPoolExecutor(max_workers=BULK_THREADS, thread_name_prefix="certwatch-bulk") as pool:
            for wave in waves:
                for outcome in pool.map(functools.partial(self._register_row, owner, time_left), wave):
                    outcomes[outcome.row] = outcome
        ordered = [outcomes[number] for number in sorted(outcomes)]
        self._ask_for_checks([(o.target.team, o.target.id) for o in ordered if o.target is not None])
        return ordered

    def _register_row(
        self, owner: str, time_left: Callable[[], float] | None, row: tuple[int, TargetSpec, str]
    ) -> BulkOutcome:
        """One row's outcome; this never raises (a row is the unit of failure)."""
        number, spec, source = row
        if time_left is not None and time_left() < BULK_RESERVE_SECONDS:
            reason = "not processed: the request ran out of time first; send this row again"
            return BulkOutcome(number, "not_processed", error_code="not_processed", reason=reason)
        try:
            target = self._create(owner, spec, source)
        except DuplicateTargetError as exc:
            return BulkOutcome(number, "duplicate", existing_id=exc.existing_id)
        except (InvalidValueError, ForbiddenAddressError) as exc:
            code = exc.code if isinstance(exc, InvalidValueError) else "forbidden_address"
            return BulkOutcome(number, "rejected", error_code=code, reason=str(exc))
        except CertwatchError as exc:  # the store failed on this row, not the row itself
            logger.warning("bulk row %d not registered: %s", number, exc)
            code = "throttled" if isinstance(exc, ThrottledError) else "unavailable"
            return BulkOutcome(number, "retry", error_code=code, reason=f"not registered, send it again: {exc}")
        except Exception:
            logger.exception("bulk row %d not registered", number)
            return BulkOutcome(number, "retry", error_code="unavailable", reason="not registered; send it again")
        return BulkOutcome(number, "created", target=target)

    def discover(self, principal: Principal, *, register: bool, team: str | None = None) -> Discovery:
        """The public endpoints behind the account's certificates, and with ``register`` registered as targets.

        Admin only: it looks at the whole AWS account. Each registered target records where it
        came from (``discovery:<source>``).
        """
        if not principal.admin:
            raise PermissionDeniedError("discovery looks at the whole AWS account: admin tokens only")
        if self._finder is None:
            raise ConfigurationError("discovery is not configured")
        found = self._finder().discover()
        outcomes: list[BulkOutcome] = []
        if register:
            rows = [(TargetSpec(d.endpoint), f"discovery:{d.source}") for d in found.endpoints]
            outcomes = self._register_many(self.team_for(principal, team), rows)
        return Discovery(found.endpoints, tuple(outcomes), found.failures)

    def list_targets(
        self, principal: Principal, *, where: TargetFilter, limit: int, cursor: str | None, team: str | None = None
    ) -> Page:
        return self._targets.list_targets(self.team_for(principal, team), limit=limit, cursor=cursor, where=where)

    def get(
        self, principal: Principal, target_id: str, *, team: str | None = None
    ) -> tuple[Target, TargetReport | None]:
        owner = self._owner_of(principal, target_id, team)
        target = self._targets.get_target(owner, target_id)
        return target, self._results.get_result(owner, target_id)

    def change(
        self, principal: Principal, target_id: str, changes: TargetChanges, *, team: str | None = None
    ) -> Target:
        owner = self._owner_of(principal, target_id, team)
        now = self._clock()
        preview = apply_changes(self._targets.get_target(owner, target_id), changes, now)
        check_thresholds(preview.spec.warn_days, preview.spec.critical_days)
        return self._targets.update_target(owner, target_id, changes, now)

    def remove(self, principal: Principal, target_id: str, *, team: str | None = None) -> None:
        self._targets.delete_target(self._owner_of(principal, target_id, team), target_id)

    def check_now(
        self, principal: Principal, target_id: str, *, team: str | None = None
    ) -> tuple[Target, TargetReport]:
        owner = self._owner_of(principal, target_id, team)
        target = self._targets.get_target(owner, target_id)
        checked, failed = self._checker().run([target], whole_reports=True)  # the API returns the whole result
        if failed:
            raise StoreError(f"could not record the check of {target_id}")
        if not checked:  # deleted while it was being checked: its result was not stored
            raise NotFoundError(f"no target {target_id}")
        return self._targets.get_target(owner, target_id), checked[0].report

    def team_settings(self, principal: Principal, *, team: str | None = None) -> TeamSettings:
        """The settings of the caller's team (any team's, for an admin)."""
        return self._teams.team_settings(self.team_for(principal, team))

    def change_team_settings(
        self, principal: Principal, change: Callable[[TeamSettings], TeamSettings], *, team: str | None = None
    ) -> TeamSettings:
        """Apply ``change`` to a team's settings; the alerter reads them within a minute."""
        owner = self.team_for(principal, team)
        changed = change(self._teams.team_settings(owner))
        self._teams.put_team_settings(owner, changed)
        return changed

    def team_for(self, principal: Principal, requested: str | None) -> str:
        """The team a request acts on: the caller's own, or any team for an admin."""
        if requested is None or requested == principal.team:
            return principal.team
        if not principal.admin:
            raise PermissionDeniedError("only an admin token may act on another team (?team=)")
        return validate_team(requested)

    def _owner_of(self, principal: Principal, target_id: str, team: str | None) -> str:
        """The team to look ``target_id`` up in; 404 at once for an id certwatch never makes.

        DynamoDB refuses a key over 1 KB with an error of its own (which would read as an outage).
        """
        owner = self.team_for(principal, team)
        if not is_target_id(target_id):
            if (token_id := pasted_token_id(target_id)) is not None:
                raise NotFoundError(
                    f"no target with that id: it looks like an API token (id {token_id}). Never put a token in a "
                    "URL: servers and proxies keep URLs in their logs, so treat it as seen: revoke it "
                    f"(certwatch token revoke {token_id}), create a new one and send it in the header "
                    "Authorization: Bearer <token>"
                )
            raise NotFoundError(f"no target {target_id!r}: a target id is tg_ and 20 hex digits")
        return owner

    def _ask_for_checks(self, refs: list[tuple[str, str]]) -> None:
        """Queue first checks; if the queue is down, the sweep checks them at their slot's first moment, FIRST_GRACE
        later (sooner, it would queue them again while the first ones wait in a busy queue)."""
        try:
            self._queue.enqueue(refs)
        except CertwatchError as exc:
            logger.warning("could not queue first checks of %d targets: %s", len(refs), exc)

    def _create(self, team: str, spec: TargetSpec, source: str) -> Target:
        self._guard(spec.endpoint)
        now = self._clock()
        target = Target(
            id=self._new_id(),
            team=team,
            spec=spec,
            created_at=now,
            updated_at=now,
            scheduled_at=now + FIRST_GRACE,
            source=source,
        )
        self._targets.create_target(target)
        return target

    def _guard(self, endpoint: Endpoint) -> None:
        """SSRF protection at registration: the name itself, or every address it resolves to."""
        if endpoint.host_is_address:
            self._policy.check(endpoint.host)
            return
        try:
            addresses = self._resolver.resolve(endpoint.host, endpoint.port, timeout=REGISTRATION_DNS_TIMEOUT)
        except ProbeError:
            return  # not resolvable yet: accepted; the checker re-checks every address it connects to
        for address in addresses:
            self._policy.check(address)
