"""``certwatch domains ...``: watching a team's domains in Certificate Transparency and RDAP (docs/domains.md).

The command line is read into the API's request body and parsed by the same code
(``http.payloads``), so a domain watched here obeys exactly the rules of ``POST /domains``.
"""

from __future__ import annotations

import argparse
from typing import Any

from certwatch.admin import LOCAL_TEAM, OPERATOR, services
from chalicelib.domain.tokens import validate_team
from chalicelib.http import payloads
from chalicelib.presentation.reports import columns, iso


def domain_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"domain": args.domain, "include_subdomains": not args.exact}
    if args.issuer:
        body["allowed_issuers"] = args.issuer
    if args.key:
        body["allowed_keys"] = args.key
    if args.owner is not None:
        body["owner"] = args.owner
    if args.alert_days:
        body["alert_days"] = args.alert_days
    domain = services(args).domain_watch.watch(_team(args), payloads.domain_request(body))
    print(f"{domain.id}: watching {domain.domain}{' and the names under it' if domain.include_subdomains else ''}")
    return 0


def domain_list(args: argparse.Namespace) -> int:
    services_ = services(args)
    now = services_.clock()
    rows = [("ID", "DOMAIN", "SUBDOMAINS", "ALLOWED ISSUERS", "REGISTRATION ENDS", "LAST SWEEP", "FINDINGS")]
    for d in services_.domain_watch.domains(_team(args)):
        findings = ", ".join(f.code.value for f in d.findings_at(now)) or "-"
        rows.append(
            (
                d.id,
                d.domain,
                "yes" if d.include_subdomains else "no",
                "; ".join(d.allowed_issuers) or ("(first sweep's)" if not d.baselined else "-"),
                iso(d.registration_expires_at) or "-",
                iso(d.swept_at) or "not yet",
                findings,
            )
        )
    print(columns(rows))
    return 0


def domain_remove(args: argparse.Namespace) -> int:
    services(args).domain_watch.remove(_team(args), args.domain_id)
    print(f"no longer watching {args.domain_id}")
    return 0


def domain_sweep(args: argparse.Namespace) -> int:
    done = services(args).domain_watch.sweep()
    print(
        f"{done.swept} of {done.due} due domains swept: {done.new_issuances} new issuances, "
        f"{done.failures} failed, {done.published} events published"
    )
    return 0


def domain_suggest(args: argparse.Namespace) -> int:
    """Names seen in CT under the team's watched domains that no target checks, one per line (to register)."""
    found = services(args).domain_watch.suggest(_team(args))
    rows = [("DOMAIN", "SEEN IN CT, NOT WATCHED")]
    rows += [(domain, name) for domain, names in found.items() for name in names]
    print(columns(rows))
    return 0


def _team(args: argparse.Namespace) -> str:
    return validate_team(args.team) if args.team else LOCAL_TEAM if args.local else OPERATOR.team
