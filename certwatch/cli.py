"""The ``certwatch`` command: the operator's tool. ``certwatch check`` runs the engine locally."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from certwatch import admin_arguments
from certwatch.handlers import handler
from chalicelib import __version__
from chalicelib.errors import CertwatchError, SettingError

# Only argparse and the error root are loaded to read a command line: each command imports what it
# uses when it runs, so `certwatch check --help` starts fast and `check`/`inspect` never load boto3.

UNKNOWN = 3  # monitoring-plugin exit status for "could not check", usage errors included
BROKEN_PIPE = 141  # what a shell reports for a command that SIGPIPE ended (128 + 13)

CHECK_EPILOG = """\
targets:
  example.com                 HTTPS on 443        example.com:8443       TLS on 8443
  https://example.com/path    (path ignored)      [2001:db8::1]:443      IPv6 literal
  smtp://mail.example.com     STARTTLS on 25      submission://host      STARTTLS on 587
  smtps://host                TLS on 465          imap://host            STARTTLS on 143
  imaps://host                TLS on 993          pop3://host            STLS on 110
  pop3s://host                TLS on 995          ftp://host             AUTH TLS on 21
  ldaps://host                TLS on 636          postgres://host        SSLRequest on 5432
  tls://host:PORT             TLS on any port

exit status: 0 all ok, 1 worst is a warning, 2 worst is critical, 3 a target could not be
checked (or the command line is wrong). A critical finding outranks an unreachable target.

examples:
  certwatch check example.com smtp://mail.example.com
  certwatch check --warn-days 21 --json --targets-file targets.txt
  certwatch check --ca-file corp-root.pem intranet.corp.example:8443
  certwatch check --resolve www.example.com:203.0.113.7 www.example.com   # one backend
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 3 (UNKNOWN) instead of 2, which means CRITICAL here.

    Options are never abbreviated: ``--ca TARGET`` would otherwise be read as ``--ca-file TARGET``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(UNKNOWN, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="certwatch",
        description="certwatch: an independent check of the TLS certificates a team depends on.",
    )
    parser.add_argument("--version", action="version", version=f"certwatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    check = commands.add_parser(
        "check",
        help="check TLS endpoints now, from this machine",
        description="Connect to each target, read the certificate chain it serves and report what is wrong.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("targets", nargs="*", metavar="TARGET", help="endpoint to check (forms below)")
    check.add_argument(
        "--targets-file", metavar="FILE", help="read targets from FILE, one per line; '#' starts a comment"
    )
    check.add_argument("--sni", metavar="NAME", help="server name to send and to match the certificate against")
    check.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="limit for each check, DNS to handshake (default 10)",
    )
    check.add_argument(
        "--ca-file",
        action="append",
        default=[],
        metavar="PEM",
        help="extra trust anchors, e.g. an internal CA's root (repeatable)",
    )
    check.add_argument(
        "--warn-days",
        type=_non_negative_int,
        default=30,
        metavar="N",
        help="warning when the certificate expires within N days (default 30)",
    )
    check.add_argument(
        "--critical-days",
        type=_non_negative_int,
        default=7,
        metavar="N",
        help="critical when it expires within N days (default 7)",
    )
    _add_at(check)
    check.add_argument(
        "--all-ips",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check every A/AAAA address of a name (default on; --no-all-ips checks the first)",
    )
    check.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="NAME:ADDRESS",
        help="use ADDRESS for NAME instead of DNS, like curl (repeatable)",
    )
    check.add_argument(
        "--concurrency", type=_positive_int, default=32, metavar="N", help="checks in flight at once (default 32)"
    )
    check.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="processes checking at once (default: one per core; 1 for a single target)",
    )
    check.add_argument(
        "--revocation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask the CA (CRL, else OCSP) whether the served chain is revoked (default on; CERTWATCH_REVOCATION)",
    )
    check.add_argument(
        "--ari",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask an ACME CA for its renewal window, RFC 9773 (default on; CERTWATCH_ARI)",
    )
    check.add_argument(
        "--legacy-tls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask each address, in a second handshake, whether it still accepts TLS 1.0 or 1.1 "
        "(default: CERTWATCH_LEGACY_TLS_PROBE, off)",
    )
    check.add_argument(
        "--require-post-quantum",
        action="store_true",
        help="warn (NO_POST_QUANTUM_KEY_EXCHANGE) where an address negotiates a classical key exchange",
    )
    check.add_argument(
        "--note-classical",
        action="store_true",
        help="name a classical key exchange as an info finding (NO_POST_QUANTUM_KEY_EXCHANGE)",
    )
    check.add_argument(
        "--posture",
        action="store_true",
        help="print each address's TLS version, cipher, key exchange group and its class, and legacy versions",
    )
    output = check.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object per target, one per line")
    output.add_argument(
        "--cbom",
        action="store_true",
        help="print the targets' cryptography as one CycloneDX 1.6 CBOM (JSON) instead of the table",
    )
    check.set_defaults(handler=handler("certwatch.checking", "run_check"), failure_status=UNKNOWN)
    _add_inspect(commands)
    admin_arguments.add_token_commands(commands, _Parser)
    admin_arguments.add_subscription_commands(commands, _Parser)
    admin_arguments.add_slack_commands(commands, _Parser)
    admin_arguments.add_webhook_commands(commands, _Parser)
    admin_arguments.add_inventory_commands(commands, _Parser)
    admin_arguments.add_cbom_command(commands)
    admin_arguments.add_silence_commands(commands, _Parser)
    admin_arguments.add_domain_commands(commands, _Parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # so a reader that went away (`| head -1`) shows here, not at exit
    except BrokenPipeError:
        # Stop quietly, and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except SettingError as exc:  # a setting is part of the command line: status 2 would read as critical
        print(f"certwatch: {exc}", file=sys.stderr)
        return UNKNOWN
    except CertwatchError as exc:
        print(f"certwatch: {exc}", file=sys.stderr)
    except Exception as exc:
        if type(exc).__module__.partition(".")[0] != "botocore":  # BotoCoreError, ClientError
            raise
        print(f"certwatch: {_aws_failure(exc, args)}", file=sys.stderr)
    return int(getattr(args, "failure_status", 1))


def _aws_failure(exc: Exception, args: argparse.Namespace) -> str:
    """What went wrong talking to AWS; without a region or credentials, most often a forgotten --local."""
    from botocore.exceptions import NoCredentialsError, NoRegionError  # loaded already: it raised

    if getattr(args, "local", True) or not isinstance(exc, NoRegionError | NoCredentialsError):
        return f"AWS request failed: {exc}"
    local = "add --local to act on the local stack `make run` started"
    where = f"the deployed stage '{args.stage}'"
    if isinstance(exc, NoRegionError):
        return (
            f"no AWS region is configured for {where}: {local}, or name the stage's region with "
            "--region REGION or AWS_DEFAULT_REGION (and the stage with --stage)"
        )
    return (
        f"no AWS credentials were found for {where}: {local}, or give this shell credentials for the "
        "stage's account (AWS_PROFILE, `aws configure`, ...) and name the stage with --stage"
    )


INSPECT_EPILOG = """\
FILE holds the leaf first, then what a server would send after it, as PEM or DER ('-' reads
stdin). The chain is judged exactly as a served one: same findings, exit status and JSON.

examples:
  certwatch inspect --name www.example.com fullchain.pem
  certwatch inspect --name www.example.com --at 2027-03-15 fullchain.pem   # still good then?
  certwatch inspect --ca-file corp-root.pem --no-public-roots --name intranet.corp.example chain.pem
  certwatch inspect --ca-file corp-root.pem --crl-file corp-int.crl --name intranet.corp.example chain.pem
"""


def _add_inspect(commands: Any) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="judge a certificate chain from a file, as a served one is judged",
        description="Judge a PEM or DER certificate chain (leaf first) as certwatch check judges a served one.",
        epilog=INSPECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("file", metavar="FILE", help="the chain: leaf first, PEM or DER ('-' for stdin)")
    inspect.add_argument("--name", metavar="NAME", help="the DNS name or IP address the leaf must cover")
    inspect.add_argument(
        "--ca-file", action="append", default=[], metavar="PEM", help="extra trust anchors (repeatable)"
    )
    inspect.add_argument(
        "--no-public-roots",
        dest="public_roots",
        action="store_false",
        help="trust only the --ca-file anchors, not the public roots",
    )
    inspect.add_argument("--warn-days", type=_non_negative_int, default=30, metavar="N", help="default 30")
    inspect.add_argument("--critical-days", type=_non_negative_int, default=7, metavar="N", help="default 7")
    _add_at(inspect)
    inspect.add_argument(
        "--crl-file",
        action="append",
        default=[],
        metavar="CRL",
        help="judge revocation by this CRL (DER or PEM) of a CA of the chain (repeatable); nothing is fetched",
    )
    inspect.add_argument("--json", action="store_true", help="print the result as one JSON object")
    inspect.set_defaults(handler=handler("certwatch.checking", "run_inspect"), failure_status=UNKNOWN)


def _add_at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        type=_moment,
        metavar="TIME",
        help="judge as of TIME instead of now (ISO 8601: 2027-03-15 or 2027-03-15T12:00Z; UTC unless a zone is given)",
    )


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected an ISO 8601 date or time, e.g. 2027-03-15 or 2027-03-15T12:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, not {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, least=1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, least=0)


def _whole_number(text: str, *, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"must be a whole number, {least} or more, not {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
