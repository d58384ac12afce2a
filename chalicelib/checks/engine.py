"""The checking engine: resolve, shake hands with every address concurrently, analyse, aggregate.

A check goes from the engine's pool (the lookup) to its probe's one handshake loop (connect and
the TLS handshake, at most ``concurrency`` in flight) and back to the pool (judging, asking the
CA, the legacy probe: whatever may wait on the network or take the CPU stays off the loop). A
STARTTLS dialogue is spoken on the pool, its handshake with it.

The CLI and the Lambda workers both call ``CheckEngine.check_many``. A check never raises: a
target that cannot be read becomes a result with a CONNECTION_FAILED finding and a reason, so
one bad endpoint never costs the rest of a batch.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.checks.renewalinfo import RenewalInfoChecker
from chalicelib.checks.resolver import SystemResolver
from chalicelib.checks.revocation import RevocationChecker
from chalicelib.checks.starttls import needs_dialogue
from chalicelib.checks.tlsprobe import LEGACY_VERSIONS, Handshake, LegacyProbe, TlsProbe
from chalicelib.domain.addresses import AddressPolicy
from chalicelib.domain.analysis import ChainAnalysis, analyze_chain
from chalicelib.domain.clock import Clock, utc_now
from chalicelib.domain.models import (
    CheckPolicy,
    CheckResult,
    Endpoint,
    FailureReason,
    Finding,
    FindingCode,
    RenewalWindow,
    Revocation,
    Severity,
    Status,
    TargetReport,
)
from chalicelib.domain.truststore import TrustStore
from chalicelib.errors import ForbiddenAddressError, ProbeError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class CheckRequest:
    """One endpoint to check, with its thresholds and (for an internal CA) its own trust store."""

    endpoint: Endpoint
    policy: CheckPolicy = field(default_factory=CheckPolicy)
    trust: TrustStore | None = None
    revocation: bool = True  # ask the CA whether the chain is revoked (when the engine can)
    renewal_info: bool = True  # ask an ACME CA for its renewal window (when the engine can)


@dataclass(frozen=True, slots=True)
class StragglerCut:
    """When a batch stops waiting for its last few checks.

    Once at most ``share`` of the batch (one at least) is still unchecked, the rest get ``slack``
    times as long again as the batch took to get there; whatever is still unchecked then is a
    straggler, for the caller to check alone. A host that accepts and never answers then costs
    its own check, not the whole batch's wait.
    """

    share: float = 0.1
    slack: float = 0.2

    def allowed(self, size: int) -> int:
        """How many of a batch of ``size`` may still be out when the cut's clock starts."""
        return max(1, int(size * self.share))


@dataclass(frozen=True, slots=True)
class _CaAnswer:
    findings: tuple[Finding, ...] = ()
    revocation: Revocation | None = None
    window: RenewalWindow | None = None


@dataclass(frozen=True, slots=True)
class _Resolved:
    addresses: tuple[str, ...]
    dns_seconds: float  # spent on the lookup: the rest of the timeout is the handshake's
    failure: CheckResult | None = None


class CheckEngine:
    """Checks endpoints concurrently on one thread pool and one handshake loop, built once and reused (warm
    Lambdas too)."""

    def __init__(
        self,
        *,
        trust: TrustStore,
        probe: TlsProbe | None = None,
        resolver: SystemResolver | None = None,
        clock: Clock = utc_now,
        timeout: float = 10.0,
        all_addresses: bool = True,
        concurrency: int = 32,
        address_policy: AddressPolicy | None = None,
        revocation: RevocationChecker | None = None,
        renewal_info: RenewalInfoChecker | None = None,
        legacy_tls: bool = False,
        legacy_probe: LegacyProbe | None = None,
    ) -> None:
        """``legacy_tls``: ask every address whether it accepts TLS 1.0 or 1.1 alone (else only where a
        request's posture policy asks), within ``legacy_probe``'s own deadline, after its handshake."""
        self._trust = trust
        self._revocation = revocation
        self._renewal_info = renewal_info
        self._probe = probe or TlsProbe(in_flight=concurrency)
        self._resolver = resolver or SystemResolver()
        self._clock = clock
        self._timeout = timeout
        self._all_addresses = all_addresses
        self._address_policy = address_policy
        self._legacy_tls = legacy_tls
        self._legacy = legacy_probe or LegacyProbe()
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="certwatch-check")

    def now(self) -> datetime:
        """The time on the engine's clock, which its reports are stamped with."""
        return self._clock()

    def check(self, endpoint: Endpoint, policy: CheckPolicy | None = None) -> TargetReport:
        """Check one endpoint."""
        return next(self.check_many([CheckRequest(endpoint, policy or CheckPolicy())]))

    def check_many(self, requests: Iterable[CheckRequest]) -> Iterator[TargetReport]:
        """Check every request concurrently; reports come back in the order of the requests."""
        pending = list(requests)
        reports: dict[int, TargetReport] = {}
        waiting = 0
        for index, report in self.check_as_done(pending):
            assert report is not None  # without a cut, every check is waited for
            reports[index] = report
            while waiting in reports:
                yield reports.pop(waiting)
                waiting += 1

    def check_as_done(
        self, requests: Sequence[CheckRequest], *, cut: StragglerCut | None = None
    ) -> Iterator[tuple[int, TargetReport | None]]:
        """Check every request concurrently; each report (with its request's index) as soon as it is done.

        With ``cut``, the batch stops waiting for its last few: each request still unchecked then
        comes last, with None for its report (its checks run on until their own deadline, unread),
        so a host that never answers holds nobody but itself.
        """
        done: queue.SimpleQueue[tuple[int, TargetReport]] = queue.SimpleQueue()
        for index, request in enumerate(requests):
            self._pool.submit(self._resolve, request).add_done_callback(
                functools.partial(self._resolved, request, index, done)
            )
        started, remaining, deadline = time.monotonic(), len(requests), None
        unchecked_indexes = set(range(len(requests)))
        while remaining:
            wait = None if deadline is None else deadline - time.monotonic()
            try:
                index, report = done.get(timeout=None if wait is None else max(0.0, wait))
            except queue.Empty:
                for straggler in sorted(unchecked_indexes):
                    yield straggler, None
                return
            remaining -= 1
            unchecked_indexes.discard(index)
            yield index, report
            if cut is not None and deadline is None and remaining and remaining <= cut.allowed(len(requests)):
                deadline = time.monotonic() + (time.monotonic() - started) * cut.slack

    def _resolved(
        self,
        request: CheckRequest,
        index: int,
        done: queue.SimpleQueue[tuple[int, TargetReport]],
        lookup: Future[_Resolved],
    ) -> None:
        """The lookup is done: a failed one is the report; else each address is checked, and the report
        is put when the last of them is."""
        try:
            resolved = lookup.result()
            if resolved.failure is not None:
                done.put((index, _report(request.endpoint, (resolved.failure,), self._clock())))
                return
            probes = [self._check_address(request, address, resolved.dns_seconds) for address in resolved.addresses]
        except Exception as exc:  # a bug must cost one report, never the batch
            logger.exception("unexpected error checking %s", request.endpoint)
            done.put((index, unchecked(request.endpoint, f"internal error while checking: {exc!r}", self._clock())))
            return
        left = [len(probes)]
        lock = threading.Lock()

        def probed(_: Future[CheckResult]) -> None:
            with lock:
                left[0] -= 1
                if left[0]:
                    return
            try:
                report = _report(request.endpoint, tuple(f.result() for f in probes), self._clock())
            except Exception as exc:  # a bug must cost one report, never the batch
                logger.exception("unexpected error reporting on %s", request.endpoint)
                report = unchecked(request.endpoint, f"internal error while checking: {exc!r}", self._clock())
            done.put((index, report))

        for probe in probes:
            probe.add_done_callback(probed)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._probe.close()
        self._resolver.close()

    def _resolve(self, request: CheckRequest) -> _Resolved:
        endpoint = request.endpoint
        if endpoint.host_is_address:
            return _Resolved((endpoint.host,), 0.0)
        started = time.monotonic()
        try:
            addresses = self._resolver.resolve(endpoint.host, endpoint.port, timeout=self._timeout)
        except ProbeError as exc:
            return _Resolved((), 0.0, _failed(None, exc, self._clock(), _ms_since(started)))
        except Exception as exc:  # a bug must cost one result, never the batch
            logger.exception("unexpected error resolving %s", endpoint)
            error = ProbeError(FailureReason.DNS, f"internal error while resolving: {exc!r}")
            return _Resolved((), 0.0, _failed(None, error, self._clock(), _ms_since(started)))
        chosen = addresses if self._all_addresses else addresses[:1]
        return _Resolved(tuple(chosen), time.monotonic() - started)

    def _check_address(self, request: CheckRequest, address: str, dns_seconds: float) -> Future[CheckResult]:
        """The address's result, once its handshake is made (a plain TLS one on the probe's loop, a STARTTLS one
        on the pool) and judged on the pool."""
        begun = time.monotonic()
        checked: Future[CheckResult] = Future()
        try:
            if self._address_policy is not None:
                self._address_policy.check(address)  # again at check time: DNS may have changed
            left = self._timeout - dns_seconds
            if left <= 0:
                raise ProbeError(FailureReason.TIMEOUT, f"no answer within {self._timeout:g}s (DNS)")
            if needs_dialogue(request.endpoint.protocol):  # spoken on a thread of the pool
                shaking = self._pool.submit(self._probe.handshake, request.endpoint, address, timeout=left)
            else:  # the probe's loop: never a wait here, where the batch is being handed out
                shaking = self._probe.begin(request.endpoint, address, timeout=left)
        except Exception as exc:
            checked.set_result(self._failure(request, address, exc, begun))
            return checked

        def shaken(handshake: Future[Handshake]) -> None:
            try:
                self._pool.submit(self._judge, request, address, handshake, begun, checked)
            except RuntimeError as exc:  # the engine was closed while the handshake was made
                checked.set_result(self._failure(request, address, exc, begun))

        shaking.add_done_callback(shaken)
        return checked

    def _judge(
        self,
        request: CheckRequest,
        address: str,
        shaking: Future[Handshake],
        begun: float,
        checked: Future[CheckResult],
    ) -> None:
        """Judge what the handshake revealed (asking the CA, and the legacy versions, if asked): ``checked``'s
        result, a failure's too."""
        try:
            handshake = shaking.result()
            asked = self._legacy_tls or request.policy.posture.legacy_tls
            legacy = self._legacy_versions(request.endpoint, address) if asked else None
            now = self._clock()
            analysis = analyze_chain(
                list(handshake.served),
                name=request.endpoint.checked_name,
                now=now,
                trust=request.trust or self._trust,
                policy=request.policy,
            )
            said = self._ask_the_ca(request, analysis, now)
            if said.findings:
                analysis = replace(analysis, findings=analysis.findings + said.findings)
            result = analysis.result(
                now,
                address=address,
                tls_version=handshake.tls_version,
                cipher=handshake.cipher,
                group=handshake.group,
                legacy_tls=legacy,
                posture=request.policy.posture,
                elapsed_ms=_ms_since(begun),
            )
            checked.set_result(replace(result, revocation=said.revocation, renewal_window=said.window))
        except Exception as exc:
            checked.set_result(self._failure(request, address, exc, begun))

    def _failure(self, request: CheckRequest, address: str, exc: Exception, begun: float) -> CheckResult:
        """The result of an address whose check raised ``exc``: its reason when the probe named one."""
        if isinstance(exc, ProbeError):
            return _failed(address, exc, self._clock(), _ms_since(begun))
        if isinstance(exc, ForbiddenAddressError):
            refused = ProbeError(FailureReason.FORBIDDEN, str(exc))
            return _failed(address, refused, self._clock(), _ms_since(begun))
        # a bug must cost one result, never the batch
        logger.error("unexpected error checking %s at %s", request.endpoint, address, exc_info=exc)
        error = ProbeError(FailureReason.TLS, f"internal error while checking: {exc!r}")
        return _failed(address, error, self._clock(), _ms_since(begun))

    def _legacy_versions(self, endpoint: Endpoint, address: str) -> tuple[str, ...] | None:
        """The legacy versions the address accepts offered alone, all asked within one deadline; None when
        no answer told (the probe's failure never fails the check)."""
        deadline = time.monotonic() + self._legacy.timeout
        accepted: list[str] = []
        told = False
        for version in LEGACY_VERSIONS:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                if self._legacy.accepts(endpoint, address, version, timeout=left):
                    accepted.append(version)
                told = True
            except ProbeError:
                continue  # refused before TLS, or no answer in time: this version is not told
            except Exception:  # a bug costs the probe's answer, never the check
                logger.exception("unexpected error probing %s at %s for %s", endpoint, address, version)
        return tuple(accepted) if told else None

    def _ask_the_ca(self, request: CheckRequest, analysis: ChainAnalysis, now: datetime) -> _CaAnswer:
        """What the CA says of the served path: revocation, and an ACME CA's renewal window."""
        if not analysis.path:
            return _CaAnswer()  # no path a client builds: the chain's own findings say it all
        found: tuple[Finding, ...] = ()
        revocation = window = None
        if self._revocation is not None and request.revocation:
            judged, revocation = self._revocation.judge(analysis.path, now)
            found += judged
        if self._renewal_info is not None and request.renewal_info and len(analysis.path) > 1:
            judged, window = self._renewal_info.judge(analysis.path[0], now, request.policy)
            found += judged
        return _CaAnswer(found, revocation, window)


def unchecked(endpoint: Endpoint, message: str, now: datetime) -> TargetReport:
    """The report of an endpoint that could not be checked at all (its checker itself failed).

    Built without the aggregation a report otherwise goes through: that may be what failed.
    """
    result = _failed(None, ProbeError(FailureReason.TLS, message), now, 0.0)
    return TargetReport(endpoint=endpoint, results=(result,), checked_at=now)


def _failed(address: str | None, error: ProbeError, now: datetime, elapsed_ms: float) -> CheckResult:
    finding = Finding(FindingCode.CONNECTION_FAILED, Severity.CRITICAL, error.message, reason=error.reason)
    return CheckResult(address=address, status=Status.ERROR, checked_at=now, findings=(finding,), elapsed_ms=elapsed_ms)


def _report(endpoint: Endpoint, results: tuple[CheckResult, ...], now: datetime) -> TargetReport:
    return TargetReport(endpoint=endpoint, results=results, checked_at=now, target_findings=_disagreement(results))


def _disagreement(results: tuple[CheckResult, ...]) -> tuple[Finding, ...]:
    """ADDRESSES_DISAGREE when the addresses behind one name serve different certificates."""
    served: dict[str, list[str]] = {}
    leaves = {}
    for result in results:
        if result.leaf is not None:
            served.setdefault(result.leaf.fingerprint_sha256, []).append(str(result.address))
            leaves[result.leaf.fingerprint_sha256] = result.leaf
    if len(served) < 2:
        return ()
    described = [
        f"{', '.join(addresses)}: {leaves[fp].common_name} sha256 {fp[:12]} until {leaves[fp].not_after:%Y-%m-%d}"
        for fp, addresses in served.items()
    ]
    message = f"the addresses serve {len(served)} different certificates ({'; '.join(described)})"
    return (Finding(FindingCode.ADDRESSES_DISAGREE, Severity.INFO, message),)


def _ms_since(begun: float) -> float:
    return round((time.monotonic() - begun) * 1000, 1)
