"""The operator's commands against a stage: ``certwatch token ...`` (and later subscriptions, Slack).

They talk to the stage's AWS resources directly with the operator's own AWS credentials:
a deployed stage (``--stage prod``), or the running local stack (``--local``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.cloudformation import stack_outputs
from chalicelib.deps import Container
from chalicelib.domain.alerts import AlertPolicy, AlertState, Notification, decide, thresholds_for
from chalicelib.domain.clock import utc_now
from chalicelib.domain.inventory import InventoryQuery, InventoryRow, Source
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
from chalicelib.errors import CertwatchError, ConfigurationError, InvalidRequestError
from chalicelib.http.payloads import MAX_DAYS
from chalicelib.presentation.documents import (
    columns,
    discovery_to_dict,
    inventory_csv,
    inventory_row_to_dict,
    inventory_table,
    iso,
    report_to_dict,
)
from chalicelib.presentation.events import notification
from chalicelib.settings import operator_settings

LOCAL_STAGE = "local"
LOCAL_REGION = "us-east-1"
LOCAL_TEAM = "local"  # the team of the admin token `make run` prints (lab/local.py)

STAGE_HELP = """\
where: a deployed stage uses your AWS credentials and region (AWS_PROFILE, AWS_DEFAULT_REGION, ...);
--local talks to the stack `make run` started (moto on 127.0.0.1:$CERTWATCH_LOCAL_AWS_PORT,
default 5000), no AWS account needed.
"""


def stage_options() -> argparse.ArgumentParser:
    """A parent parser with the options that say which stage a command acts on."""
    parser = argparse.ArgumentParser(add_help=False)
    where = parser.add_argument_group("where (a deployed stage, or --local)")
    where.add_argument(
        "--stage",
        default=os.environ.get("CERTWATCH_STAGE", "dev"),
        help="deployed stage to act on (default: $CERTWATCH_STAGE or dev)",
    )
    where.add_argument("--local", action="store_true", help="act on the local stack started by `make run`")
    where.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    where.add_argument("--endpoint-url", help="AWS endpoint override (e.g. a moto server)")
    where.add_argument("--table", help="DynamoDB table (default: certwatch-STAGE)")
    return parser


def add_token_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    token = commands.add_parser(
        "token",
        help="create, list and revoke API tokens",
        description="API tokens: each belongs to one team; an admin token may act on every team.",
        epilog=STAGE_HELP
        + """
examples:
  certwatch token create --team web --local            # on the local stack
  certwatch token create --team ops --admin --name "ops on-call" --stage prod
  certwatch token list --stage prod
  certwatch token revoke 3f9a1c0b7e2d --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = token.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    where = [stage_options()]
    create = actions.add_parser("create", parents=where, help="create a token and print it (shown once)")
    create.add_argument("--team", required=True, help="the team the token acts for")
    create.add_argument("--admin", action="store_true", help="may act on every team (?team=)")
    create.add_argument("--name", default="", help="a note to recognise the token by in `token list`")
    create.set_defaults(handler=token_create)
    listing = actions.add_parser("list", parents=where, help="list tokens (ids, teams, names; never the tokens)")
    listing.set_defaults(handler=token_list)
    revoke = actions.add_parser("revoke", parents=where, help="revoke a token by its id (see `token list`)")
    revoke.add_argument("token_id", metavar="TOKEN_ID")
    revoke.set_defaults(handler=token_revoke)


def add_subscription_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    subscribe = commands.add_parser(
        "subscribe",
        help="send alert events to an email address (and list or remove subscriptions)",
        description="Email subscriptions to the stage's alerts topic, filtered by team and severity.",
        epilog=STAGE_HELP
        + """
AWS sends a confirmation email first; events arrive once the recipient confirms.

examples:
  certwatch subscribe email oncall@example.com --min-severity critical --stage prod
  certwatch subscribe email web-team@example.com --team web --stage prod
  certwatch subscribe list --stage prod
  certwatch subscribe remove arn:aws:sns:eu-west-1:123456789012:certwatch-prod-alerts:0b1c... --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = subscribe.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    email = actions.add_parser("email", parents=where, help="subscribe an email address")
    email.add_argument("address", metavar="ADDRESS")
    email.add_argument("--team", help="only events about this team's targets")
    email.add_argument(
        "--min-severity",
        choices=SEVERITY_ORDER,
        default="info",
        help="only events at least this severe (default info: every event)",
    )
    email.set_defaults(handler=subscribe_email)
    listing = actions.add_parser("list", parents=where, help="list the topic's subscriptions and their filters")
    listing.set_defaults(handler=subscribe_list)
    remove = actions.add_parser("remove", parents=where, help="remove a subscription by its ARN")
    remove.add_argument("subscription_arn", metavar="SUBSCRIPTION_ARN")
    remove.set_defaults(handler=subscribe_remove)


def add_slack_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    slack = commands.add_parser(
        "slack",
        help="set, test or remove the Slack incoming webhook events are posted to",
        description="The Slack webhook URL is a secret: it is kept in SSM Parameter Store as a SecureString "
        "(/certwatch/STAGE/slack-webhook-url) and never printed or logged.",
        epilog=STAGE_HELP
        + """
examples:
  certwatch slack set-webhook https://hooks.slack.com/services/T000/B000/XXXX --stage prod
  certwatch slack test --stage prod
  certwatch slack remove-webhook --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = slack.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    set_webhook = actions.add_parser("set-webhook", parents=where, help="store the webhook URL (SSM SecureString)")
    set_webhook.add_argument("url", metavar="URL", help="the incoming webhook URL Slack gave you")
    set_webhook.set_defaults(handler=slack_set_webhook)
    test = actions.add_parser("test", parents=where, help="post a sample event through the stored webhook")
    test.set_defaults(handler=slack_test)
    remove = actions.add_parser("remove-webhook", parents=where, help="delete the stored webhook URL")
    remove.set_defaults(handler=slack_remove_webhook)


def add_inventory_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    inventory = commands.add_parser(
        "inventory",
        parents=where,
        help="list every certificate certwatch knows: endpoints, ACM and IAM",
        description="One row per certificate: served by a team's endpoints (by fingerprint) or held in ACM/IAM "
        "(by ARN), sorted by expiry. The same rows as GET /certificates for an admin token.",
        epilog=STAGE_HELP
        + """
examples:
  certwatch inventory --stage prod                          # ACM and IAM certificates
  certwatch inventory --team web --stage prod               # plus the web team's endpoints
  certwatch inventory --expiring-within-days 30 --format csv --stage prod > expiring.csv
  certwatch inventory --scan --local                        # scan ACM/IAM now, then list
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inventory.add_argument("--team", help="include this team's endpoint certificates")
    inventory.add_argument("--source", choices=[s.value for s in Source], help="only this source")
    inventory.add_argument("--status", choices=[s.value for s in Status], help="only this status")
    inventory.add_argument(
        "--expiring-within-days", type=_within_days, metavar="N", help="only certificates expiring within N days"
    )
    inventory.add_argument("--issuer", help="only issuers containing this text")
    inventory.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output (default table)")
    inventory.add_argument("--scan", action="store_true", help="scan ACM (and IAM) first, as the daily schedule does")
    inventory.set_defaults(handler=inventory_list)

    discover = commands.add_parser(
        "discover",
        parents=where,
        help="find the public endpoints behind the account's certificates (ELB, CloudFront, API Gateway)",
        description="Looks at ELBv2 HTTPS/TLS listeners, CloudFront aliases and API Gateway custom domain names "
        "in the stage's ACM regions, and proposes an endpoint target for every host name (wildcards excepted), "
        "so what they serve is verified from the outside. --register registers them.",
        epilog=STAGE_HELP
        + """
examples:
  certwatch discover --stage prod                           # propose
  certwatch discover --register --team platform --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    discover.add_argument("--register", action="store_true", help="register the endpoints found as targets")
    discover.add_argument("--team", default="platform", help="the team that owns registered targets (default platform)")
    discover.set_defaults(handler=discover_endpoints)


def _within_days(text: str) -> int:
    """--expiring-within-days: as many days as GET /certificates takes."""
    try:
        days = int(text)
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_DAYS * 10:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 0 to {MAX_DAYS * 10}, not {text!r}")
    return days


def services(args: argparse.Namespace) -> Container:
    """The services of the stage the command line names, with clients pointed at it."""
    import boto3

    if args.local:
        stage = LOCAL_STAGE
        port = os.environ.get("CERTWATCH_LOCAL_AWS_PORT", "5000")
        endpoint = args.endpoint_url or f"http://127.0.0.1:{port}"
        region = args.region or LOCAL_REGION
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    else:
        stage, endpoint, region, credentials = args.stage, args.endpoint_url, args.region, {}
    settings = operator_settings(stage)
    if args.table:
        settings = replace(settings, table_name=args.table)
    session = boto3.session.Session(region_name=region, **credentials)
    container = Container(settings, session=session, endpoint_url=endpoint)
    try:
        outputs = stack_outputs(session.client("cloudformation", endpoint_url=endpoint), stage)
    except ConfigurationError:
        return container  # no data stack by that name: the topic ARN follows the stage's naming
    container.__dict__["topic_arn"] = outputs.get("AlertsTopicArn") or container.topic_arn
    return container


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


SEVERITY_ORDER = ["info", "warning", "critical"]


def subscribe_email(args: argparse.Namespace) -> int:
    if "@" not in args.address or args.address.startswith("@") or args.address.endswith("@"):
        raise InvalidRequestError(f"{args.address!r} is not an email address")
    services_ = services(args)
    policy: dict[str, list[str]] = {"severity": SEVERITY_ORDER[SEVERITY_ORDER.index(args.min_severity) :]}
    if args.team:
        policy["team"] = [validate_team(args.team)]
    answer = services_.sns.subscribe(
        TopicArn=services_.topic_arn,
        Protocol="email",
        Endpoint=args.address,
        Attributes={"FilterPolicy": json.dumps(policy)},
        ReturnSubscriptionArn=True,
    )
    arn = answer["SubscriptionArn"]
    print(f"subscribed {args.address} ({_describe_policy(policy)}): {arn}")
    attributes = services_.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    if attributes.get("PendingConfirmation") == "true":
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
    services_ = services(args)
    rows = [("PROTOCOL", "ENDPOINT", "FILTER", "SUBSCRIPTION")]
    paginator = services_.sns.get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=services_.topic_arn):
        for subscription in page.get("Subscriptions", []):
            arn = subscription["SubscriptionArn"]
            policy = {}
            if arn.startswith("arn:"):
                attributes = services_.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                policy = json.loads(attributes.get("FilterPolicy") or "{}")
            rows.append((subscription["Protocol"], subscription["Endpoint"], _describe_policy(policy), arn))
    _print_table(rows)
    return 0


def subscribe_remove(args: argparse.Namespace) -> int:
    services_ = services(args)
    arn = args.subscription_arn
    try:
        topic = services_.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"].get("TopicArn")
    except services_.sns.exceptions.NotFoundException:
        topic = None
    if topic != services_.topic_arn:
        raise CertwatchError(f"unknown subscription {arn}: `certwatch subscribe list` shows this stage's")
    services_.sns.unsubscribe(SubscriptionArn=arn)
    print(f"removed {arn}")
    return 0


def slack_set_webhook(args: argparse.Namespace) -> int:
    url = args.url.strip()
    if not (url.startswith(("https://", "http://127.0.0.1", "http://localhost"))):
        raise InvalidRequestError("the webhook URL must start with https:// (Slack's are https://hooks.slack.com/...)")
    services_ = services(args)
    name = services_.settings.slack_parameter
    services_.ssm.put_parameter(Name=name, Value=url, Type="SecureString", Overwrite=True)
    print(f"stored the Slack webhook in SSM parameter {name} (SecureString); events are posted there from now on")
    return 0


def slack_test(args: argparse.Namespace) -> int:
    services_ = services(args)
    if services_.slack_webhook_url() is None:
        raise CertwatchError("no Slack webhook is stored: run `certwatch slack set-webhook URL` first")
    document = sample_notification(services_.settings.stage, services_.clock()).document
    if not services_.slack.deliver(json.dumps(document)):
        raise CertwatchError("the sample event was not posted")
    print("posted a sample event to Slack")
    return 0


def slack_remove_webhook(args: argparse.Namespace) -> int:
    services_ = services(args)
    name = services_.settings.slack_parameter
    try:
        services_.ssm.delete_parameter(Name=name)
    except services_.ssm.exceptions.ParameterNotFound:
        raise CertwatchError(f"no Slack webhook stored in {name}") from None
    print(f"deleted {name}; events are no longer posted to Slack")
    return 0


def sample_notification(stage: str, now: datetime) -> Notification:
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
    finding = Finding(
        FindingCode.EXPIRING_SOON, Severity.WARNING, f"a sample event sent by `certwatch slack test` (stage {stage})"
    )
    result = CheckResult("192.0.2.10", Status.WARNING, now, findings=(finding,), leaf=leaf, elapsed_ms=42.0)
    report = TargetReport(endpoint, (result,), now)
    target = Target("tg_sample", "sample", TargetSpec(endpoint), created_at=now, updated_at=now, next_check_at=now)
    _, events = decide(target.id, AlertState(), report, AlertPolicy(thresholds=thresholds_for(30, 7)), now)
    (event,) = events
    return notification(replace(event, summary=f"sample event: {event.summary}"), target, report_to_dict(report), now)


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
        status=Status(args.status) if args.status else None,
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
    if args.format == "json":
        for row in rows:
            print(json.dumps(inventory_row_to_dict(row)))
    elif args.format == "csv":
        print(inventory_csv(rows), end="")
    else:
        print(inventory_table(rows))
        if team == OPERATOR.team:
            print("(endpoint certificates: add --team TEAM)", file=sys.stderr)
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
