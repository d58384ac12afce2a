"""The operator's commands against a stage: tokens, email subscriptions, the Slack webhook, the inventory.

They act on the stage's AWS resources with the operator's own AWS credentials, through the same
adapters as the functions (built by chalicelib/deps.py): a deployed stage (``--stage prod``), or
the running local stack (``--local``). Their command lines are declared in admin_arguments.py.
boto3 and the adapters are imported when a command runs, not when the ``certwatch`` command starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from certwatch import aws
from certwatch.admin_arguments import SEVERITIES
from chalicelib.domain.alerts import (
    AlertPolicy,
    AlertState,
    AlertSubject,
    Notification,
    Observation,
    decide,
    thresholds_for,
)
from chalicelib.domain.clock import utc_now
from chalicelib.domain.inventory import InventoryQuery, InventoryRow, RowStatus, Source
from chalicelib.domain.models import (
    CertificateInfo,
    CheckResult,
    Endpoint,
    Finding,
    FindingCode,
    Severity,
    Status,
    TargetReport,
)
from chalicelib.domain.targets import Target, TargetSpec
from chalicelib.domain.tokens import Principal, issue, validate_team
from chalicelib.errors import CertwatchError, ConfigurationError, InvalidValueError
from chalicelib.presentation.documents import (
    discovery_to_dict,
    inventory_csv,
    inventory_row_to_dict,
    inventory_table,
    readiness_text,
)
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.events import event_document, wire
from chalicelib.presentation.reports import cadence_table, columns, iso
from chalicelib.settings import local_aws_port, operator_settings

if TYPE_CHECKING:
    from chalicelib.deps import Container

LOCAL_STAGE = "local"
LOCAL_REGION = "us-east-1"
LOCAL_TEAM = "local"  # the team of the admin token `make run` prints (lab/local.py)
# What the local stack allows unless told otherwise (lab/local.py): this machine, a webhook receiver on it too.
LOCAL_ALLOW_CIDRS = "127.0.0.0/8,::1/128"


def services(args: argparse.Namespace) -> Container:
    """The services of the stage the command line names, with clients pointed at it.

    The settings are read first, so a bad one is one line before anything loads or connects.
    """
    # The local stack's moto server takes any key pair; a stage's AWS, the operator's own (as boto3 finds them).
    local_key: str | None = None
    if args.local:
        stage = LOCAL_STAGE
        endpoint = args.endpoint_url or f"http://127.0.0.1:{local_aws_port()}"
        region = args.region or LOCAL_REGION
        local_key = "local"
    else:
        stage, endpoint, region = args.stage, args.endpoint_url, args.region
    settings = operator_settings(stage)

    import boto3  # the AWS clients and adapters load when a command runs, not to read a command line

    from certwatch.aws.cloudformation import stack_outputs
    from chalicelib.deps import Container

    if args.table:
        settings = replace(settings, table_name=args.table)
    if args.local and not settings.allow_cidrs:  # judge addresses as the local stack does
        settings = replace(settings, allow_cidrs=LOCAL_ALLOW_CIDRS)
    session = boto3.session.Session(aws_access_key_id=local_key, aws_secret_access_key=local_key, region_name=region)
    container = Container(settings, session=session, endpoint_url=endpoint)
    try:
        outputs = stack_outputs(container.client("cloudformation"), stage)
    except ConfigurationError:
        return container  # no data stack by that name: the topic ARN follows the stage's naming
    topic_arn = outputs.get("AlertsTopicArn")
    if not topic_arn:
        return container
    # The stack's topic wins over a CERTWATCH_TOPIC_ARN: the services are built for the stage it names.
    return Container(replace(settings, topic_arn=topic_arn), session=session, endpoint_url=endpoint)


def token_create(args: argparse.Namespace) -> int:
    token, record = issue(args.team, admin=args.admin, now=utc_now(), name=args.name)
    services(args).store.put_token(record)
    kind = "admin token" if record.admin else "token"
    print(f"created {kind} {record.token_id} for team {record.team}; it is shown only now:", file=sys.stderr)
    print(token)
    return 0


def token_list(args: argparse.Namespace) -> int:
    records = services(args).store.list_tokens()
    rows = [("ID", "TEAM", "ADMIN", "CREATED", "NAME")]
    rows += [(r.token_id, r.team, "yes" if r.admin else "no", iso(r.created_at) or "", r.name) for r in records]
    _print_table(rows)
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    if not services(args).store.delete_token(args.token_id):
        # A revoked token leaves no record behind, so "revoked before" and "never issued" look alike.
        raise CertwatchError(
            f"token {args.token_id} is not active: it is already revoked, or was never issued "
            "(`certwatch token list` shows the active ones)"
        )
    print(f"revoked token {args.token_id}")
    return 0


def subscribe_email(args: argparse.Namespace) -> int:
    if "@" not in args.address or args.address.startswith("@") or args.address.endswith("@"):
        raise InvalidValueError(f"{args.address!r} is not an email address")
    subscriptions = aws.subscriptions(services(args))
    policy: dict[str, list[str]] = {"severity": SEVERITIES[SEVERITIES.index(args.min_severity) :]}
    if args.team:
        policy["team"] = [validate_team(args.team)]
    subscription = subscriptions.subscribe_email(args.address, policy)
    print(f"subscribed {args.address} ({_describe_policy(policy)}): {subscription.arn}")
    if subscription.pending:
        print("AWS sends a confirmation email; events arrive once it is confirmed.", file=sys.stderr)
    elif args.local:
        print(
            "confirmed at once: the local stack sends no email; "
            "its terminal (`make run`) shows every event as the email would read",
            file=sys.stderr,
        )
    else:
        print("already confirmed: events arrive from now on.", file=sys.stderr)
    return 0


def subscribe_list(args: argparse.Namespace) -> int:
    rows = [("PROTOCOL", "ENDPOINT", "FILTER", "SUBSCRIPTION")]
    for subscription in aws.subscriptions(services(args)).list():
        policy = _describe_policy(subscription.filter_policy)
        rows.append((subscription.protocol, subscription.endpoint, policy, subscription.arn))
    _print_table(rows)
    return 0


def subscribe_remove(args: argparse.Namespace) -> int:
    arn = args.subscription_arn
    if not aws.subscriptions(services(args)).remove(arn):
        raise CertwatchError(f"unknown subscription {arn}: `certwatch subscribe list` shows this stage's")
    print(f"removed {arn}")
    return 0


def slack_set_webhook(args: argparse.Namespace) -> int:
    url = args.url.strip()
    if not (url.startswith(("https://", "http://127.0.0.1", "http://localhost"))):
        raise InvalidValueError("the webhook URL must start with https:// (Slack's are https://hooks.slack.com/...)")
    parameter = aws.slack_parameter(services(args))
    parameter.put(url)
    stored = f"stored the Slack webhook in SSM parameter {parameter.name} (SecureString)"
    print(f"{stored}; events are posted there from now on")
    return 0


def slack_test(args: argparse.Namespace) -> int:
    services_ = services(args)
    if services_.slack_webhook_url() is None:
        raise CertwatchError("no Slack webhook is stored: run `certwatch slack set-webhook URL` first")
    document = sample_event(services_.settings.stage, services_.clock(), base_url=services_.settings.public_url)
    if not services_.slack.deliver(json.dumps(wire(document))):
        raise CertwatchError("the sample event was not posted")
    print("posted a sample event to Slack")
    return 0


def slack_remove_webhook(args: argparse.Namespace) -> int:
    parameter = aws.slack_parameter(services(args))
    if not parameter.delete():
        raise CertwatchError(f"no Slack webhook stored in {parameter.name}")
    print(f"deleted {parameter.name}; events are no longer posted to Slack")
    return 0


def sample_event(
    stage: str, now: datetime, *, base_url: str | None = None, by: str = "certwatch slack test"
) -> EventDocument:
    """The event document of ``sample_notification``, as the alerts topic would carry it."""
    return event_document(sample_notification(stage, now, by=by), base_url)


def sample_notification(stage: str, now: datetime, *, by: str = "certwatch slack test") -> Notification:
    """A made-up event about a certificate expiring in 14 days, built the way real events are, to try a channel."""
    endpoint = Endpoint("www.example.com", 443)
    leaf = CertificateInfo(
        subject="CN=www.example.com",
        issuer="CN=Example Issuing CA,O=Example",
        serial="1",
        sans=("www.example.com",),
        ip_sans=(),
        key_type="EC",
        key_size=256,
        signature_algorithm="ecdsa-with-SHA256",
        fingerprint_sha256="00" * 32,
        not_before=now - timedelta(days=76),
        not_after=now + timedelta(days=14, hours=1),
        is_ca=False,
        self_issued=False,
    )
    finding = Finding(FindingCode.EXPIRING_SOON, Severity.WARNING, f"a sample event sent by `{by}` (stage {stage})")
    result = CheckResult("192.0.2.10", Status.WARNING, now, findings=(finding,), leaf=leaf, elapsed_ms=42.0)
    report = TargetReport(endpoint, (result,), now)
    target = Target("tg_sample", "sample", TargetSpec(endpoint), created_at=now, updated_at=now, scheduled_at=now)
    _, events = decide(target.id, AlertState(), report, AlertPolicy(thresholds=thresholds_for(30, 7)), now)
    (event,) = events
    sample = replace(event, summary=f"sample event: {event.summary}")
    return Notification.of(sample, AlertSubject.of_target(target), Observation.of(report), now)


def _describe_policy(policy: dict[str, Any]) -> str:
    parts = [f"{name}={','.join(values)}" for name, values in sorted(policy.items())]
    return " ".join(parts) or "every event"


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    print(columns(rows))


OPERATOR = Principal(team="operator", admin=True, token_id="cli")


def inventory_list(args: argparse.Namespace) -> int:
    services_ = services(args)
    if args.scan:
        result = services_.inventory.scan()
        noun = "certificate" if result.seen == 1 else "certificates"
        print(f"scanned: {result.seen} {noun} in ACM/IAM", file=sys.stderr)
        for failure in result.failures:
            print(f"  incomplete: {' / '.join(failure)}", file=sys.stderr)
    now = services_.clock()
    query = InventoryQuery(
        source=Source(args.source) if args.source else None,
        status=RowStatus(args.status) if args.status else None,
        expiring_before=None if args.expiring_within_days is None else now + timedelta(days=args.expiring_within_days),
        issuer=args.issuer,
    )
    # What an admin token sees: its own team's endpoints (locally, the `local` team's) and ACM/IAM.
    team = validate_team(args.team) if args.team else LOCAL_TEAM if args.local else OPERATOR.team
    rows: list[InventoryRow] = []
    cursor: str | None = None
    while True:
        page = services_.inventory.rows(OPERATOR, team=team, query=query, limit=500, cursor=cursor)
        rows += page.items
        if page.cursor is None:
            break
        cursor = page.cursor
    readiness, cadences = page.readiness, page.cadences  # of the team's endpoints: the same on every page
    if args.format == "json":
        for row in rows:
            print(json.dumps(inventory_row_to_dict(row)))
    elif args.format == "csv":
        print(inventory_csv(rows), end="")
    else:
        print(inventory_table(rows))
        if readiness is not None:
            print()
            print(readiness_text(readiness))
        if cadences:
            print()
            print(cadence_table(cadences))
        if team == OPERATOR.team:
            print("(endpoint certificates: add --team TEAM)", file=sys.stderr)
    return 0


def cbom_document(args: argparse.Namespace) -> int:
    """``certwatch cbom``: GET /cbom's document for an admin token, read from the stage's stored results."""
    from chalicelib import __version__
    from chalicelib.presentation.cbom import cbom_json, observed

    services_ = services(args)
    sources = services_.cbom.sources(OPERATOR, validate_team(args.team) if args.team else None)
    print(cbom_json(observed(sources.watched), sources.managed, now=services_.clock(), version=__version__, indent=2))
    return 0


def discover_endpoints(args: argparse.Namespace) -> int:
    found = services(args).registry.discover(OPERATOR, register=args.register, team=args.team)
    document = discovery_to_dict(found.found, found.outcomes, found.failures)
    rows = [("TARGET", "SOURCE", "OUTCOME")]
    rows += [(e["target"], e["source"], e["outcome"]) for e in document["endpoints"]]
    _print_table(rows)
    for failure in document["failures"]:
        print(f"incomplete: {failure}", file=sys.stderr)
    return 0
