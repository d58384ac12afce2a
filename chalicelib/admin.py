"""The operator's commands against a stage: ``certwatch token ...`` (and later subscriptions, Slack).

They talk to the stage's AWS resources directly with the operator's own AWS credentials:
a deployed stage (``--stage prod``), or the running local stack (``--local``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from chalicelib.deps import Container
from chalicelib.engine import utc_now
from chalicelib.errors import CertwatchError
from chalicelib.render import iso
from chalicelib.settings import Settings
from chalicelib.tokens import issue

LOCAL_STAGE = "local"
LOCAL_REGION = "us-east-1"

STAGE_HELP = """\
where: a deployed stage uses your AWS credentials and region (AWS_PROFILE, AWS_REGION, ...);
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
    settings = Settings.for_stage(stage)
    if args.table:
        settings = Settings.for_stage(stage, table_name=args.table)
    session = boto3.session.Session(region_name=region, **credentials)
    return Container(settings, dynamodb=session.client("dynamodb", endpoint_url=endpoint))


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
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    if not services(args).store.delete_token(args.token_id):
        raise CertwatchError(f"no token {args.token_id} (see `certwatch token list`)")
    print(f"revoked token {args.token_id}")
    return 0
