"""``certwatch check`` and ``certwatch inspect``: the engine's verdicts, from this machine.

Imported only when one of these commands runs (see cli.py); they never load boto3 or an adapter.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from cryptography import x509

from certwatch.workers import check_in_processes, worker_count
from chalicelib.checks.assembly import check_engine
from chalicelib.checks.engine import CheckEngine, CheckRequest
from chalicelib.checks.resolver import SystemResolver
from chalicelib.domain.addresses import address_text
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.clock import utc_now
from chalicelib.domain.endpoints import normalize_hostname, parse_target
from chalicelib.domain.models import (
    CheckPolicy,
    Endpoint,
    PosturePolicy,
    Status,
    TargetReport,
    check_thresholds,
    worst_status,
)
from chalicelib.domain.revocation import crl_findings, load_crl
from chalicelib.domain.truststore import load_trust_store
from chalicelib.domain.x509info import not_a_bundle, split_bundle
from chalicelib.errors import CertwatchError, InvalidTargetError
from chalicelib.presentation.reports import (
    inspection_table,
    inspection_to_dict,
    posture_table,
    report_to_dict,
    table,
)
from chalicelib.settings import Settings


def run_check(args: argparse.Namespace) -> int:
    settings = Settings.from_env()  # first: a malformed CERTWATCH_* variable is one line naming it
    policy = replace(_policy(args), posture=_posture(args, settings))
    endpoints = [parse_target(text, sni=args.sni) for text in args.targets]
    if args.targets_file:
        endpoints += _read_targets_file(args.targets_file, sni=args.sni)
    if not endpoints:
        raise CertwatchError("no target given: name one or more TARGETs or use --targets-file")
    at: datetime | None = args.at
    trust = load_trust_store(args.ca_file)
    overrides = _overrides(args.resolve)
    requests = [CheckRequest(e, policy) for e in endpoints]
    workers = worker_count(args.workers, len(requests))
    chosen = replace(
        settings,
        check_timeout=args.timeout,
        check_concurrency=max(1, -(-args.concurrency // workers)),  # the same total in flight
        revocation=settings.revocation and args.revocation,
        ari=settings.ari and args.ari,
        legacy_tls_probe=False,  # each request's policy says it: --legacy-tls, else the setting (_posture)
    )

    def engine() -> CheckEngine:
        # Targets named here are the operator's choice; the URLs their certificates name are not.
        return check_engine(
            chosen,
            trust=trust,
            resolver=SystemResolver(overrides),
            clock=utc_now if at is None else lambda: at,
            guard_targets=False,
            all_addresses=args.all_ips,
        )

    if args.json:  # each worker renders its own reports: a line is cheaper to send back than a report
        statuses: list[Status] = []
        for status, line in check_in_processes(requests, engine, workers, _json_line):
            statuses.append(status)
            print(line, flush=True)
        return worst_status(statuses).exit_code
    reports = list(check_in_processes(requests, engine, workers, _as_is))
    if args.cbom:
        from chalicelib import __version__
        from chalicelib.presentation.cbom import Observed, cbom_json

        now = at or utc_now()
        print(cbom_json([Observed(report) for report in reports], now=now, version=__version__, indent=2))
    else:
        print(posture_table(reports) if args.posture else table(reports))
    return worst_status([report.status for report in reports]).exit_code


def _json_line(report: TargetReport) -> tuple[Status, str]:
    return report.status, json.dumps(report_to_dict(report))


def _as_is(report: TargetReport) -> TargetReport:
    return report


def run_inspect(args: argparse.Namespace) -> int:
    policy = _policy(args)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise CertwatchError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    holds = not_a_bundle(data)
    if holds is not None:
        where, what = ("standard input", "the input") if args.file == "-" else (args.file, "the file")
        raise CertwatchError(f"{where}: no certificate found: {what} {holds}; expected a PEM CERTIFICATE block or DER")
    served = split_bundle(data)
    name = None if args.name is None else _checked_name(args.name)
    now = args.at or utc_now()
    trust = load_trust_store(args.ca_file, public_roots=args.public_roots)
    crls = [_read_crl(path) for path in args.crl_file]
    analysis = analyze_chain(served, name=name, now=now, trust=trust, policy=policy)
    if crls:
        analysis = replace(analysis, findings=analysis.findings + crl_findings(analysis.path, crls, now))
    result = analysis.result(now)
    if args.json:
        print(json.dumps(inspection_to_dict(args.file, name, result)))
    else:
        print(inspection_table(args.file, name, result))
    return result.status.exit_code


def _read_crl(path: str) -> x509.CertificateRevocationList:
    try:
        return load_crl(Path(path).read_bytes())
    except OSError as exc:
        raise CertwatchError(f"cannot read CRL file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CertwatchError(f"{path}: not a CRL (expected DER or PEM)") from exc


def _checked_name(text: str) -> str:
    try:
        return address_text(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return normalize_hostname(text, what="--name")


def _policy(args: argparse.Namespace) -> CheckPolicy:
    check_thresholds(args.warn_days, args.critical_days, warn="--warn-days", critical="--critical-days")
    return CheckPolicy(warn_days=args.warn_days, critical_days=args.critical_days)


def _posture(args: argparse.Namespace, settings: Settings) -> PosturePolicy:
    legacy = settings.legacy_tls_probe if args.legacy_tls is None else args.legacy_tls
    return PosturePolicy(
        require_post_quantum=args.require_post_quantum, note_classical=args.note_classical, legacy_tls=legacy
    )


def _read_targets_file(path: str, *, sni: str | None) -> list[Endpoint]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise CertwatchError(f"cannot read targets file {path}: {exc.strerror or exc}") from exc
    endpoints = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            endpoints.append(parse_target(entry, sni=sni))
        except InvalidTargetError as exc:
            raise InvalidTargetError(f"{path}:{number}: {exc}") from exc
    return endpoints


def _overrides(pins: list[str]) -> dict[str, list[str]]:
    overrides: dict[str, list[str]] = {}
    for pin in pins:
        name, _, address = pin.partition(":")
        try:
            literal = address_text(ipaddress.ip_address(address.strip("[]")))
        except ValueError:
            raise CertwatchError(f"--resolve {pin!r}: expected NAME:ADDRESS with an IP address") from None
        overrides.setdefault(normalize_hostname(name, what="--resolve name"), []).append(literal)
    return overrides
