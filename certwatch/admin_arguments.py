"""The operator commands' command lines: what ``certwatch token``, ``subscribe``, ``slack``, ``inventory``
and ``discover`` take, and their help. The commands themselves are in admin.py.
"""

from __future__ import annotations

import argparse
from typing import Any

from certwatch.handlers import handler
from chalicelib.settings import named_stage

# The words the commands take, spelled out so that reading a command line imports no domain module
# (`certwatch check --help` starts at once); tests/unit/test_cli_words.py holds each to the
# domain's own values.
SEVERITIES = ["info", "warning", "critical"]  # the least severe first: Severity
SOURCES = ["endpoint", "acm", "iam", "domain"]  # inventory.Source
STATUSES = ["ok", "warning", "critical", "error"]  # models.Status
ROW_STATUSES = [*STATUSES, "pending"]  # inventory.RowStatus
FORMATS = ["generic", "pagerduty", "teams"]  # webhooks.Format
EVENT_TYPES = [  # alerts.EventType
    "certificate.expiring",
    "certificate.expired",
    "certificate.problem",
    "endpoint.unreachable",
    "certificate.renewed",
    "certificate.recovered",
    "certificate.revoked",
    "certificate.renewal_requested",
    "certificate.renewed_not_deployed",
    "certificate.unexpected_issuance",
    "domain.expiring",
]

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
        default=named_stage(),
        help="deployed stage to act on (default: $CERTWATCH_STAGE or dev)",
    )
    where.add_argument("--local", action="store_true", help="act on the local stack started by `make run`")
    where.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    where.add_argument("--endpoint-url", help="AWS endpoint override (e.g. a moto server)")
    where.add_argument("--table", help="DynamoDB table (default: certwatch-STAGE)")
    return parser


def _with_actions(
    commands: Any, parser_class: type[argparse.ArgumentParser], name: str, *, epilog: str, **described: str
) -> Any:
    """``certwatch NAME ACTION``: the command, its help ending with where it acts, and its actions to add."""
    command = commands.add_parser(
        name, epilog=STAGE_HELP + epilog, formatter_class=argparse.RawDescriptionHelpFormatter, **described
    )
    actions = command.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    return actions


def add_token_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    actions = _with_actions(
        commands,
        parser_class,
        "token",
        help="create, list and revoke API tokens",
        description="API tokens: each belongs to one team; an admin token may act on every team.",
        epilog="""
examples:
  certwatch token create --team web --local            # on the local stack
  certwatch token create --team ops --admin --name "ops on-call" --stage prod
  certwatch token list --stage prod
  certwatch token revoke 3f9a1c0b7e2d --stage prod
""",
    )
    where = [stage_options()]
    create = actions.add_parser("create", parents=where, help="create a token and print it (shown once)")
    create.add_argument("--team", required=True, help="the team the token acts for")
    create.add_argument("--admin", action="store_true", help="may act on every team (?team=)")
    create.add_argument("--name", default="", help="a note to recognise the token by in `token list`")
    create.set_defaults(handler=handler("certwatch.admin", "token_create"))
    listing = actions.add_parser("list", parents=where, help="list tokens (ids, teams, names; never the tokens)")
    listing.set_defaults(handler=handler("certwatch.admin", "token_list"))
    revoke = actions.add_parser("revoke", parents=where, help="revoke a token by its id (see `token list`)")
    revoke.add_argument("token_id", metavar="TOKEN_ID")
    revoke.set_defaults(handler=handler("certwatch.admin", "token_revoke"))


def add_subscription_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    actions = _with_actions(
        commands,
        parser_class,
        "subscribe",
        help="send alert events to an email address (and list or remove subscriptions)",
        description="Email subscriptions to the stage's alerts topic, filtered by team and severity.",
        epilog="""
AWS sends a confirmation email first; events arrive once the recipient confirms.

examples:
  certwatch subscribe email oncall@example.com --min-severity critical --stage prod
  certwatch subscribe email web-team@example.com --team web --stage prod
  certwatch subscribe list --stage prod
  certwatch subscribe remove arn:aws:sns:eu-west-1:123456789012:certwatch-prod-alerts:0b1c... --stage prod
""",
    )
    email = actions.add_parser("email", parents=where, help="subscribe an email address")
    email.add_argument("address", metavar="ADDRESS")
    email.add_argument("--team", help="only events about this team's targets")
    email.add_argument(
        "--min-severity",
        choices=SEVERITIES,
        default="info",
        help="only events at least this severe (default info: every event)",
    )
    email.set_defaults(handler=handler("certwatch.admin", "subscribe_email"))
    listing = actions.add_parser("list", parents=where, help="list the topic's subscriptions and their filters")
    listing.set_defaults(handler=handler("certwatch.admin", "subscribe_list"))
    remove = actions.add_parser("remove", parents=where, help="remove a subscription by its ARN")
    remove.add_argument("subscription_arn", metavar="SUBSCRIPTION_ARN")
    remove.set_defaults(handler=handler("certwatch.admin", "subscribe_remove"))


def add_slack_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    actions = _with_actions(
        commands,
        parser_class,
        "slack",
        help="set, test or remove the Slack incoming webhook events are posted to",
        description="The Slack webhook URL is a secret: it is kept in SSM Parameter Store as a SecureString "
        "(/certwatch/STAGE/slack-webhook-url) and never printed or logged.",
        epilog="""
examples:
  certwatch slack set-webhook https://hooks.slack.com/services/T000/B000/XXXX --stage prod
  certwatch slack test --stage prod
  certwatch slack remove-webhook --stage prod
""",
    )
    set_webhook = actions.add_parser("set-webhook", parents=where, help="store the webhook URL (SSM SecureString)")
    set_webhook.add_argument("url", metavar="URL", help="the incoming webhook URL Slack gave you")
    set_webhook.set_defaults(handler=handler("certwatch.admin", "slack_set_webhook"))
    test = actions.add_parser("test", parents=where, help="post a sample event through the stored webhook")
    test.set_defaults(handler=handler("certwatch.admin", "slack_test"))
    remove = actions.add_parser("remove-webhook", parents=where, help="delete the stored webhook URL")
    remove.set_defaults(handler=handler("certwatch.admin", "slack_remove_webhook"))


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
    inventory.add_argument("--source", choices=SOURCES, help="only this source")
    inventory.add_argument(
        "--status",
        choices=ROW_STATUSES,
        help="only this status (error: an endpoint that never answered; pending: not checked yet)",
    )
    inventory.add_argument(
        "--expiring-within-days", type=_within_days, metavar="N", help="only certificates expiring within N days"
    )
    inventory.add_argument("--issuer", help="only issuers containing this text")
    inventory.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output (default table)")
    inventory.add_argument("--scan", action="store_true", help="scan ACM (and IAM) first, as the daily schedule does")
    inventory.set_defaults(handler=handler("certwatch.admin", "inventory_list"))

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
    discover.set_defaults(handler=handler("certwatch.admin", "discover_endpoints"))


def add_cbom_command(commands: Any) -> None:
    cbom = commands.add_parser(
        "cbom",
        parents=[stage_options()],
        help="print the cryptography the checks saw as a CycloneDX 1.6 CBOM (JSON)",
        description="A Cryptography Bill of Materials (CycloneDX 1.6 JSON) from the stored results, as GET /cbom "
        "gives an admin token: every certificate, algorithm, public key and TLS protocol the endpoints served, and the "
        "certificates held in ACM and IAM (docs/cbom.md). `certwatch check --cbom` gives one for targets "
        "checked now, from this machine.",
        epilog=STAGE_HELP
        + """
examples:
  certwatch cbom --local > cbom.json                     # every team's, from the local stack
  certwatch cbom --team web --stage prod > web-cbom.json
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cbom.add_argument("--team", help="only this team's endpoints (default: every team's)")
    cbom.set_defaults(handler=handler("certwatch.admin", "cbom_document"))


def _within_days(text: str) -> int:
    """--expiring-within-days: as many days as GET /certificates takes."""
    from chalicelib.http.payloads import MAX_DAYS  # here: it loads the trust store's code

    try:
        days = int(text)
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_DAYS * 10:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 0 to {MAX_DAYS * 10}, not {text!r}")
    return days


def add_webhook_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    webhook = commands.add_parser(
        "webhook",
        help="send alert events to webhooks: any HTTPS receiver (signed), PagerDuty, Microsoft Teams",
        description="Each event is POSTed once to every destination whose filters take it: generic receivers get "
        "the v1 event document signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature), "
        "PagerDuty an Events API v2 trigger or resolve, Teams an Adaptive Card. URLs and secrets are kept in SSM "
        "Parameter Store (SecureString, /certwatch/STAGE/webhooks/ID) and never printed again.",
        epilog=STAGE_HELP
        + """
A destination must be https:// on a public address (checked now and before every delivery;
CERTWATCH_ALLOW_CIDRS opens internal networks). The local stack (--local) also allows loopback,
and plain http:// to it.

examples:
  certwatch webhook add https://hooks.example.com/certwatch --team web --stage prod
  certwatch webhook add https://events.pagerduty.com/v2/enqueue --format pagerduty \\
      --routing-key R0UT1NGK3Y0000000000000000000000 --min-severity critical --stage prod
  certwatch webhook add 'https://prod-00.westeurope.logic.azure.com/workflows/...' --format teams --stage prod
  certwatch webhook add http://127.0.0.1:9000/hook --type certificate.expiring certificate.renewed --local
  certwatch webhook list --stage prod
  certwatch webhook test wh_3f9a1c0b7e2d --stage prod
  certwatch webhook remove wh_3f9a1c0b7e2d --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = webhook.add_subparsers(dest="action", metavar="ACTION", parser_class=parser_class)
    actions.required = True
    add = actions.add_parser("add", parents=where, help="add a destination (a generic one's secret is shown once)")
    add.add_argument("url", metavar="URL", help="where to POST (a Teams Workflows URL, PagerDuty's Events URL, ...)")
    add.add_argument("--format", choices=FORMATS, default="generic", help="what it receives (default generic)")
    add.add_argument("--team", help="only events about this team's targets")
    add.add_argument(
        "--min-severity", choices=SEVERITIES, default="info", help="only events at least this severe (default info)"
    )
    add.add_argument(
        "--type",
        dest="types",
        action="extend",
        nargs="+",
        choices=EVENT_TYPES,
        metavar="TYPE",
        help="only these event types (default every type): " + ", ".join(EVENT_TYPES),
    )
    add.add_argument("--routing-key", help="--format pagerduty: the Events API v2 integration key of the service")
    add.add_argument("--secret", help="--format generic: sign with this whsec_ secret instead of a new one")
    add.set_defaults(handler=handler("certwatch.webhooks", "webhook_add"))
    listing = actions.add_parser("list", parents=where, help="list destinations (ids, hosts, filters; no secrets)")
    listing.set_defaults(handler=handler("certwatch.webhooks", "webhook_list"))
    remove = actions.add_parser("remove", parents=where, help="remove a destination by its id")
    remove.add_argument("destination_id", metavar="ID")
    remove.set_defaults(handler=handler("certwatch.webhooks", "webhook_remove"))
    test = actions.add_parser(
        "test", parents=where, help="send a sample event to a destination (PagerDuty: a trigger, then its resolve)"
    )
    test.add_argument("destination_id", metavar="ID")
    test.set_defaults(handler=handler("certwatch.webhooks", "webhook_test"))


def add_silence_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    silence = commands.add_parser(
        "silence",
        help="keep a team's alerts about a target, certificate, label or finding quiet for a while",
        description="A silenced event is recorded and shown (certwatch events, GET /events, the page), never "
        "delivered. A silence always ends (at most CERTWATCH_SILENCE_MAX_DAYS); a certificate still served a day "
        "after it expired is told anyway, unless the silence names that certificate.",
    )
    actions = silence.add_subparsers(dest="action", required=True, parser_class=parser_class)
    add = actions.add_parser(
        "add",
        parents=where,
        help="silence one thing",
        epilog=STAGE_HELP
        + """
examples:
  certwatch silence add --team web --target tg_0194c6f2a1b2c3d4e5f6 --days 7 --reason "migrating" --stage prod
  certwatch silence add --team web --certificate 0995e7... --days 30 --until-certificate-changes \\
      --reason "renewal ordered" --stage prod
  certwatch silence add --team web --label env=staging --until 2026-12-24T00:00:00Z --reason "freeze" --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = add.add_mutually_exclusive_group(required=True)
    what.add_argument("--target", help="a target's id: its events")
    what.add_argument("--certificate", metavar="SHA256", help="a certificate's SHA-256 fingerprint: its events")
    what.add_argument("--label", metavar="KEY=VALUE", help="the events of targets with this label")
    what.add_argument("--finding", metavar="CODE", help="events whose findings include this code")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--days", type=int, help="for this many days from now")
    when.add_argument("--until", metavar="TIME", help="until this time (RFC 3339, e.g. 2026-12-24T00:00:00Z)")
    add.add_argument("--reason", required=True, help="why (shown with every event it quiets)")
    add.add_argument(
        "--until-certificate-changes", action="store_true", help="end early, when the certificate is replaced"
    )
    add.add_argument("--author", help="who asks (default: the operator's command line)")
    add.add_argument("--team", help="the team (default: the operator's; with --local, the local stack's)")
    add.set_defaults(handler=handler("certwatch.silences", "silence_add"))
    listing = actions.add_parser("list", parents=where, help="a team's silences, ended ones too")
    listing.add_argument("--team", help="the team")
    listing.set_defaults(handler=handler("certwatch.silences", "silence_list"))
    end = actions.add_parser("end", parents=where, help="end a silence now")
    end.add_argument("silence_id")
    end.add_argument("--team", help="the team")
    end.set_defaults(handler=handler("certwatch.silences", "silence_end"))

    maintenance = commands.add_parser(
        "maintenance", help="plan a maintenance window: a team's alerts (or its labelled targets') quiet for a period"
    )
    actions = maintenance.add_subparsers(dest="action", required=True, parser_class=parser_class)
    add = actions.add_parser(
        "add",
        parents=where,
        help="plan a window",
        epilog=STAGE_HELP
        + """
examples:
  certwatch maintenance add --team web --start 2026-12-20T22:00:00Z --end 2026-12-21T02:00:00Z \\
      --label env=prod --reason "load balancer upgrade" --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("--start", metavar="TIME", help="from (RFC 3339; default: now)")
    add.add_argument("--end", metavar="TIME", required=True, help="to (RFC 3339)")
    add.add_argument("--label", action="append", metavar="KEY=VALUE", help="only targets with this label (repeat)")
    add.add_argument("--reason", required=True, help="why")
    add.add_argument("--author", help="who plans it")
    add.add_argument("--team", help="the team")
    add.set_defaults(handler=handler("certwatch.silences", "maintenance_add"))
    listing = actions.add_parser("list", parents=where, help="a team's windows, past ones too")
    listing.add_argument("--team", help="the team")
    listing.set_defaults(handler=handler("certwatch.silences", "maintenance_list"))
    end = actions.add_parser("end", parents=where, help="end a window now")
    end.add_argument("window_id")
    end.add_argument("--team", help="the team")
    end.set_defaults(handler=handler("certwatch.silences", "maintenance_end"))

    events = commands.add_parser(
        "events",
        parents=where,
        help="a team's recent events: told, waiting, or kept quiet (and by what)",
    )
    events.add_argument("--team", help="the team")
    events.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    events.set_defaults(handler=handler("certwatch.silences", "events_list"))


def add_domain_commands(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    where = [stage_options()]
    domains = commands.add_parser(
        "domains",
        help="watch a team's domains: certificates in CT never deployed or unexpected, names not watched, "
        "the registration's end",
        description="docs/domains.md says what is fetched from where (Cert Spotter, the registry's RDAP server) "
        "and how often.",
    )
    actions = domains.add_subparsers(dest="action", required=True, parser_class=parser_class)
    add = actions.add_parser(
        "add",
        parents=where,
        help="watch a domain",
        epilog=STAGE_HELP
        + """
examples:
  certwatch domains add example.com --team web --stage prod
  certwatch domains add example.com --issuer R11 --issuer E6 --team web --stage prod
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("domain", help="a registered domain (or a name under one)")
    add.add_argument("--exact", action="store_true", help="this name only, not the names under it")
    add.add_argument(
        "--issuer", action="append", help="an expected issuer, its DN or CN (repeat; default: the first sweep's)"
    )
    add.add_argument("--key", action="append", metavar="SHA256", help="an expected SPKI's SHA-256 (repeat)")
    add.add_argument("--owner", help="who acts on its alerts")
    add.add_argument(
        "--alert-days", type=int, nargs="+", metavar="DAYS", help="when its registration's end is told (30 14 7 3 1)"
    )
    add.add_argument("--team", help="the team (default: the operator's; with --local, the local stack's)")
    add.set_defaults(handler=handler("certwatch.domains", "domain_add"))
    for name, function, text in (
        ("list", "domain_list", "a team's watched domains and what their sweeps found"),
        ("suggest", "domain_suggest", "names seen in CT under the watched domains that no target checks"),
        ("sweep", "domain_sweep", "sweep the due domains now (the sweep function does it on its schedule)"),
    ):
        command = actions.add_parser(name, parents=where, help=text)
        command.add_argument("--team", help="the team")
        command.set_defaults(handler=handler("certwatch.domains", function))
    remove = actions.add_parser("remove", parents=where, help="stop watching a domain")
    remove.add_argument("domain_id")
    remove.add_argument("--team", help="the team")
    remove.set_defaults(handler=handler("certwatch.domains", "domain_remove"))
