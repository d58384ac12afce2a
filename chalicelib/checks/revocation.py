"""Fetching what a certificate's CA says about revocation: its CRL, else its OCSP responder.

The judgement is ``domain.revocation``'s; this part fetches through the guarded ``UrlFetcher``
and keeps answers per process until the source's nextUpdate (at most ``max_age``: a CA
publishes a new CRL, with new revocations in it, long before the old one's nextUpdate). A
source that failed is not asked again for ``failure_age``, so a responder that is down costs
one timeout per quarter hour, not one per check. One deadline bounds all the fetching of one
chain.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from chalicelib.checks.caching import ExpiringCache
from chalicelib.checks.fetcher import UrlFetcher
from chalicelib.domain.models import Finding, Revocation
from chalicelib.domain.revocation import (
    RevocationVerdict,
    crl_scope_verdict,
    crl_urls,
    crl_usable,
    judge_ocsp,
    leaf_status,
    load_crl,
    ocsp_request,
    ocsp_urls,
    revocation_findings,
    revoked_serials,
)
from chalicelib.errors import FetchError

logger = logging.getLogger(__name__)

# Sources tried per certificate: more URLs than this in one certificate is someone's game.
MAX_URLS = 2


@dataclass(frozen=True, slots=True)
class RevocationLimits:
    """Caps on what revocation checking may fetch and keep."""

    crl_max_bytes: int = 10 * 1024 * 1024
    ocsp_max_bytes: int = 64 * 1024
    max_age: timedelta = timedelta(hours=6)
    failure_age: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class _Crl:
    crl: x509.CertificateRevocationList | None
    problem: str | None
    revoked: dict[int, x509.RevokedCertificate] | None = None  # by serial: a lookup is no scan


class RevocationChecker:
    """Asks each certificate's CA whether it is revoked; answers are kept per process."""

    def __init__(self, fetcher: UrlFetcher, limits: RevocationLimits | None = None) -> None:
        self._fetcher = fetcher
        self._limits = limits or RevocationLimits()
        self._crls: ExpiringCache[str, _Crl] = ExpiringCache(max_entries=256)
        self._crl_issuers: ExpiringCache[tuple[str, bytes], str | None] = ExpiringCache(max_entries=1024)
        self._ocsp: ExpiringCache[tuple[str, bytes, int], RevocationVerdict] = ExpiringCache()

    def check(self, path: Sequence[x509.Certificate], now: datetime) -> tuple[Finding, ...]:
        """REVOKED or REVOCATION_UNKNOWN findings for the path (leaf first, anchor last); never raises."""
        return self.judge(path, now)[0]

    def judge(self, path: Sequence[x509.Certificate], now: datetime) -> tuple[tuple[Finding, ...], Revocation | None]:
        """The path's findings, and what the leaf's CA says of the leaf (None: it names no source); never raises."""
        deadline = time.monotonic() + self._fetcher.timeout
        judged = []
        try:
            for cert, issuer in itertools.pairwise(path):  # the anchor is trusted as it is
                judged.append((cert, self._verdicts(cert, issuer, now, deadline)))
        except Exception:  # a bug costs the revocation findings of this check, never the check
            logger.exception("revocation checking failed")
            return (), None
        return revocation_findings(judged), leaf_status(judged[0][1]) if judged else None

    def _verdicts(
        self, cert: x509.Certificate, issuer: x509.Certificate, now: datetime, deadline: float
    ) -> list[RevocationVerdict]:
        verdicts = []
        for url in crl_urls(cert)[:MAX_URLS]:
            verdict = self._from_crl(url, cert, issuer, now, deadline)
            verdicts.append(verdict)
            if verdict.status is not Revocation.UNKNOWN:
                return verdicts
        for url in ocsp_urls(cert)[:MAX_URLS]:
            verdict = self._from_ocsp(url, cert, issuer, now, deadline)
            verdicts.append(verdict)
            if verdict.status is not Revocation.UNKNOWN:
                return verdicts
        return verdicts

    def _from_crl(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate, now: datetime, deadline: float
    ) -> RevocationVerdict:
        held = self._crls.get(url, now, lambda: self._fetch_crl(url, now, deadline))
        if held.crl is None:
            return RevocationVerdict(Revocation.UNKNOWN, "crl", url, problem=held.problem)
        crl = held.crl
        # Verifying a large CRL's signature costs milliseconds: once per CRL and issuer.
        issuer_id = issuer.fingerprint(hashes.SHA256())
        until = min(crl.next_update_utc or now, now + self._limits.max_age)
        problem = self._crl_issuers.get((url, issuer_id), now, lambda: (crl_usable(crl, issuer, now), until))
        if problem is not None:
            return RevocationVerdict(Revocation.UNKNOWN, "crl", url, problem=f"the CRL is not used: {problem}")
        return crl_scope_verdict(crl, cert, url, held.revoked)

    def _fetch_crl(self, url: str, now: datetime, deadline: float) -> tuple[_Crl, datetime]:
        try:
            fetched = self._fetcher.get(url, max_bytes=self._limits.crl_max_bytes, deadline=deadline)
            crl = load_crl(fetched.body)
            next_update = crl.next_update_utc
            revoked = revoked_serials(crl)
        except FetchError as exc:
            return _Crl(None, str(exc)), now + self._limits.failure_age
        except ValueError as exc:
            return _Crl(None, f"what {url} serves is not a CRL ({exc})"), now + self._limits.failure_age
        if next_update is None or next_update <= now:
            # Kept briefly: judging says why it is not used (stale, or no nextUpdate).
            return _Crl(crl, None, revoked), now + self._limits.failure_age
        return _Crl(crl, None, revoked), min(next_update, now + self._limits.max_age)

    def _from_ocsp(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate, now: datetime, deadline: float
    ) -> RevocationVerdict:
        key = (url, issuer.fingerprint(hashes.SHA256()), cert.serial_number)
        return self._ocsp.get(key, now, lambda: self._ask_ocsp(url, cert, issuer, now, deadline))

    def _ask_ocsp(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate, now: datetime, deadline: float
    ) -> tuple[RevocationVerdict, datetime]:
        try:
            request = ocsp_request(cert, issuer)
            fetched = self._fetcher.post(
                url, request, "application/ocsp-request", max_bytes=self._limits.ocsp_max_bytes, deadline=deadline
            )
        except FetchError as exc:
            verdict = RevocationVerdict(Revocation.UNKNOWN, "ocsp", url, problem=str(exc))
            return verdict, now + self._limits.failure_age
        except ValueError as exc:  # a certificate OCSP cannot name
            verdict = RevocationVerdict(Revocation.UNKNOWN, "ocsp", url, problem=f"no OCSP request possible: {exc}")
            return verdict, now + self._limits.failure_age
        verdict = judge_ocsp(fetched.body, cert, issuer, now, url=url)
        if verdict.status is Revocation.UNKNOWN or verdict.next_update is None:
            return verdict, now + self._limits.failure_age
        return verdict, min(verdict.next_update, now + self._limits.max_age)
