"""The local stack (`make run`): certwatch's whole pipeline on this machine, no AWS account needed.

moto's server plays AWS on 127.0.0.1 (one request at a time: lab/localaws.py), the resources
come from the same infra/template.yaml a deployment uses, the API is served by Chalice's local
server, and the Lambda handlers of app.py run on what the queues deliver: the sweep on a short
schedule, the checker on the check queue (batches as configured, a few at once), the Slack and
webhooks functions on what the alerts topic publishes. Every event's email text is printed; moto's
own warnings and errors go to a log file the banner names, with the demo CA's PEM file beside it.

Settings (environment), each checked at start (a bad one is one line naming it, exit status 2):
PORT (API, 8000), CERTWATCH_LOCAL_AWS_PORT (moto, 5000), CERTWATCH_SWEEP_SECONDS (60),
CERTWATCH_DEMO_PORT (9441: first of the three demo endpoints), CERTWATCH_BOOTSTRAP_TOKEN (use this
admin token instead of a new one), CERTWATCH_WEBHOOK_URL and CERTWATCH_WEBHOOK_SECRET (one signed
webhook destination, added at start: a receiver on this machine over http or https, else https to
an address the stack may reach), and the functions' own CERTWATCH_* settings (chalicelib/settings.py),
such as CERTWATCH_SLACK_WEBHOOK_URL (post events there), CERTWATCH_ALLOW_CIDRS (127.0.0.0/8,::1/128)
and CERTWATCH_ACM_REGIONS (us-east-1: the local ACM scanned every sweep).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from chalicelib.domain.addresses import AddressPolicy
from chalicelib.errors import CertwatchError, InvalidValueError, SettingError
from chalicelib.settings import Settings, read_int, read_seconds, refused

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef

STAGE = "local"
REGION = "us-east-1"
ALLOW_CIDRS = "127.0.0.0/8,::1/128"  # CERTWATCH_ALLOW_CIDRS unless set: the demo endpoints, local receivers
# Checker invocations running at once: enough to keep moto busy while others shake hands.
CHECKERS = 2
# How long a poller of an empty queue waits before asking again (never on the server: see _run_checker).
IDLE_POLL = 0.5
# How often the main thread looks whether a signal came (and the API whether to stop serving);
# how long start-up and the loops may take to finish what they are doing once one did, and moto
# to exit once asked (then it is killed).
STOP_POLL = 0.1
STOP_GRACE = 3.0
_SAYING = threading.Lock()


@dataclass(frozen=True)
class LocalSettings:
    """The local stack's own settings, read from the environment and checked together."""

    api_port: int = 8000
    aws_port: int = 5000
    demo_port: int = 9441
    sweep_seconds: float = 60.0
    bootstrap_token: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalSettings:
        """The settings ``env`` gives; SettingError names the first one the stack cannot use.

        The functions' settings are checked as given, those the stack sets itself too (a bad value is
        a mistake to point out even where the stack puts its own); the webhook destination is judged
        as the stack will judge it when it adds it, under the stack's CERTWATCH_ALLOW_CIDRS.
        """
        Settings.from_env(env)
        settings = cls(
            api_port=read_int(env, "PORT", 8000, 1, 65535),
            aws_port=read_int(env, "CERTWATCH_LOCAL_AWS_PORT", 5000, 1, 65535),
            demo_port=read_int(env, "CERTWATCH_DEMO_PORT", 9441, 1, 65533),
            sweep_seconds=read_seconds(env, "CERTWATCH_SWEEP_SECONDS", 60.0, most=86400.0),
            bootstrap_token=_bootstrap_token_setting(env),
            webhook_url=_webhook_url_setting(env),
            webhook_secret=_webhook_secret_setting(env),
        )
        _check_ports(env, settings)
        return settings


def say(text: str, stream: Any = None) -> None:
    """Print ``text`` and its newline in one write: the loops print from threads of their own, and print()'s
    two writes would let another thread's line in between (an event's rule, then "[checker] checked ...")."""
    out = sys.stdout if stream is None else stream
    with _SAYING:
        out.write(text + "\n")
        out.flush()


def _check_ports(env: Mapping[str, str], settings: LocalSettings) -> None:
    """The API, moto and the three demo endpoints each need ports of their own."""
    api, aws, demo = settings.api_port, settings.aws_port, settings.demo_port
    if api == aws:
        name, value = _blamed(env, "PORT", "CERTWATCH_LOCAL_AWS_PORT")
        other = "CERTWATCH_LOCAL_AWS_PORT" if name == "PORT" else "PORT"
        problem = f"the API and moto need ports of their own ({other} is {api} too)"
        raise refused(name, value, problem, _example_port(name, settings))
    for port, other in ((api, "PORT"), (aws, "CERTWATCH_LOCAL_AWS_PORT")):
        if demo <= port < demo + 3:
            name, value = _blamed(env, "CERTWATCH_DEMO_PORT", other)
            if name == "CERTWATCH_DEMO_PORT":
                problem = f"the demo endpoints take this port and the two after it, and {other} is {port}"
            else:
                problem = f"the demo endpoints take CERTWATCH_DEMO_PORT ({demo}) and the two ports after it"
            raise refused(name, value, problem, _example_port(name, settings))


def _example_port(name: str, settings: LocalSettings) -> int:
    """A port for ``name`` that clashes with none of the others: the example a clash's message gives."""
    api, aws, demo = settings.api_port, settings.aws_port, settings.demo_port
    first, span, taken = {
        "PORT": (8000, 1, {aws, demo, demo + 1, demo + 2}),
        "CERTWATCH_LOCAL_AWS_PORT": (5000, 1, {api, demo, demo + 1, demo + 2}),
        "CERTWATCH_DEMO_PORT": (9441, 3, {api, aws}),
    }[name]
    return next(p for p in range(first, 65536 - span) if taken.isdisjoint(range(p, p + span)))


def _blamed(env: Mapping[str, str], first: str, second: str) -> tuple[str, str]:
    """The variable to name for a clash of two settings (one the user set), and its value."""
    name = first if env.get(first) or not env.get(second) else second
    defaults = {"PORT": "8000", "CERTWATCH_LOCAL_AWS_PORT": "5000", "CERTWATCH_DEMO_PORT": "9441"}
    return name, env.get(name) or defaults[name]


def _given(env: Mapping[str, str], name: str) -> str | None:
    """A setting's value without the spaces around it; None when unset or empty (its default)."""
    return (env.get(name) or "").strip() or None


def _bootstrap_token_setting(env: Mapping[str, str]) -> str | None:
    """CERTWATCH_BOOTSTRAP_TOKEN: a token as `certwatch token create` makes them (a secret: never shown)."""
    from chalicelib.domain.tokens import adopt, issue

    name, given = "CERTWATCH_BOOTSTRAP_TOKEN", _given(env, "CERTWATCH_BOOTSTRAP_TOKEN")
    if given is None:
        return None
    now = datetime.now(UTC)
    try:
        adopt(given, STAGE, admin=True, now=now)
    except InvalidValueError as exc:
        raise refused(name, given, str(exc), issue(STAGE, admin=True, now=now)[0], secret=True) from None
    return given


def _webhook_url_setting(env: Mapping[str, str]) -> str | None:
    """CERTWATCH_WEBHOOK_URL judged as adding it will judge it: its form, then the addresses it reaches."""
    name, given = "CERTWATCH_WEBHOOK_URL", _given(env, "CERTWATCH_WEBHOOK_URL")
    if given is None:
        return None
    from chalicelib.adapters.webhook import WebhookPoster
    from chalicelib.checks.resolver import SystemResolver
    from chalicelib.domain.webhooks import parse_url

    policy = AddressPolicy.from_text(_given(env, "CERTWATCH_ALLOW_CIDRS") or ALLOW_CIDRS)
    try:
        WebhookPoster(SystemResolver(threads=1).resolve, policy).addresses(parse_url(given))
    except CertwatchError as exc:
        rule, example = _webhook_rule(policy)
        raise refused(name, given, f"{exc}; {rule}", example, secret=True) from None
    return given


def _webhook_rule(policy: AddressPolicy) -> tuple[str, str]:
    """What CERTWATCH_WEBHOOK_URL may be under the stack's address policy, and an example of one."""
    if policy.refusal("127.0.0.1") is None:
        return (
            "the local stack takes http:// or https:// to this machine (127.0.0.1, ::1, localhost), "
            "else https:// to a public address or one CERTWATCH_ALLOW_CIDRS allows",
            "http://127.0.0.1:9000/hook",
        )
    rule = (
        "https:// to a public address or one CERTWATCH_ALLOW_CIDRS allows; http:// to this machine "
        f"only while CERTWATCH_ALLOW_CIDRS allows loopback, as it does when unset ({ALLOW_CIDRS})"
    )
    networks = policy.allowed_networks
    if not networks:
        return rule, "https://hooks.example.com/certwatch"
    host = networks[0][1] if networks[0].num_addresses > 1 else networks[0][0]
    return rule, f"https://[{host}]/hook" if host.version == 6 else f"https://{host}/hook"


def _webhook_secret_setting(env: Mapping[str, str]) -> str | None:
    from chalicelib.domain.webhooks import new_secret, secret_key

    name, given = "CERTWATCH_WEBHOOK_SECRET", _given(env, "CERTWATCH_WEBHOOK_SECRET")
    if given is None:
        return None
    try:
        secret_key(given)
    except InvalidValueError as exc:
        raise refused(name, given, str(exc), new_secret(), secret=True) from None
    return given


@dataclass
class LocalStack:
    api_url: str
    aws_url: str
    token: str
    demo_targets: dict[str, str]
    demo_ca_file: Path
    log_file: Path
    webhook: str = ""
    domain_demo: Any = None  # lab.domaindemo.DomainDemo: the watched-domain demo's stand-ins


class _StopSignals:
    """SIGINT and SIGTERM, noted for the main thread, which then stops the stack.

    The handler only sets a flag. It runs on the main thread between two bytecodes, also while
    that thread holds a lock (inside ``Event.set``, say): a handler that takes the same lock never
    gets it, and the stack hangs with every thread waiting. A second signal, as ``make`` forwards
    one after ``timeout`` or ``docker stop`` sent the first, only sets the flag again.
    """

    def __init__(self) -> None:
        self._noted = False
        signal.signal(signal.SIGINT, self._note)
        signal.signal(signal.SIGTERM, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._noted = True

    def asked(self) -> bool:
        """Whether a signal came."""
        return self._noted

    def wait(self) -> None:
        """Until a signal came."""
        while not self._noted:
            time.sleep(STOP_POLL)

    def ignore_from_now(self) -> None:
        """Once the stack has stopped, a later signal has nothing left to stop.

        Ignored rather than noted: while the interpreter finalizes, Python puts back the default
        action of every signal it handles, and a second SIGTERM then would kill the process (exit
        -15) after it said it stopped cleanly. An ignored signal stays ignored.
        """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main() -> int:
    signals = _StopSignals()  # first of all: from here on a signal asks for a clean stop
    try:
        local = LocalSettings.from_env(os.environ)
        _set_environment(local)
        Settings.from_env()  # the functions' own settings, as app.py will read them
    except SettingError as exc:
        print(f"certwatch local stack: {exc}", file=sys.stderr, flush=True)
        return 2
    for port, what in ((local.aws_port, "CERTWATCH_LOCAL_AWS_PORT"), (local.api_port, "PORT")):
        if not _free(port):
            print(f"port {port} is in use: stop what uses it, or set {what} to another port", file=sys.stderr)
            return 1
    print("starting certwatch local stack ...", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="certwatch-local-"))
    log_file = workdir / "local.log"

    from lab.localaws import LocalAwsProcess, log_to

    log_to(log_file)
    aws = None
    if not signals.asked():
        try:
            aws = LocalAwsProcess(local.aws_port, log_file, cancelled=signals.asked)
        except RuntimeError as exc:
            print(f"certwatch local stack: {exc}", file=sys.stderr, flush=True)
            return 1
    stop = threading.Event()  # what the stack's threads wait on; set by this thread, never by a handler
    threads: list[threading.Thread] = []
    servers: list[Any] = []
    stack = None
    try:
        if aws is not None and not signals.asked():
            aws_url = aws.url
            stack = _start_watched(
                signals, threads, lambda: _start(local, aws_url, workdir, log_file, stop, threads, servers)
            )
        if stack is not None:
            _banner(stack, local.sweep_seconds)
            signals.wait()
            print("\nstopping certwatch local stack ...", flush=True)
        else:
            print("stopping certwatch local stack during start-up ...", flush=True)
    finally:
        stop.set()
        _shut_down(servers, threads, aws)
    signals.ignore_from_now()
    print("certwatch local stack stopped" + ("" if stack is not None else " during start-up"), flush=True)
    return 0


def _meter_units(container: Any) -> None:
    """Under CERTWATCH_LOCAL_UNITS, count DynamoDB's write and read units (bench/units.py), printed at exit."""
    if not os.environ.get("CERTWATCH_LOCAL_UNITS"):
        return
    import atexit

    import boto3

    from bench.units import Meter

    meter = Meter(peek=boto3.client("dynamodb")).attach(container.dynamodb)

    def total() -> None:
        writes, reads, requests = meter.snapshot()
        say(f"dynamodb units: {writes:.1f} write, {reads:.1f} read in {requests:,} requests")

    atexit.register(total)


def _start_watched(
    signals: _StopSignals, threads: list[threading.Thread], start: Callable[[], LocalStack | None]
) -> LocalStack | None:
    """What ``start`` started, run on a thread of its own (added to ``threads``); None when a signal came first.

    The main thread stays free to notice a signal while start-up waits on moto (a deploy, say).
    Then ``start`` is left to see the stop between two of its steps, and the shut-down waits for it.
    """
    outcome: list[LocalStack | BaseException | None] = []

    def run() -> None:
        try:
            outcome.append(start())
        except BaseException as exc:  # raised again on the main thread, unless the stack is stopping
            outcome.append(exc)

    starter = threading.Thread(target=run, name="local-start", daemon=True)
    threads.append(starter)
    starter.start()
    while starter.is_alive() and not signals.asked():
        starter.join(STOP_POLL)
    if signals.asked():
        return None
    (started,) = outcome
    if isinstance(started, BaseException):
        raise started
    return started


def _shut_down(servers: list[Any], threads: list[threading.Thread], aws: Any) -> None:
    """Let the threads finish, stop the servers, then moto; moto's process is stopped and reaped whatever fails first.

    Start-up, the first of ``threads``, may still be finishing a step (it stops at the next):
    the loops and servers it started on the way are in the lists by the time it is done. A thread
    still busy STOP_GRACE seconds after the stop began is left behind, to end with the process;
    so is a moto that does not answer (its process is killed).
    """
    deadline = time.monotonic() + STOP_GRACE
    try:
        for thread in threads:  # not a copy: start-up may add the loops it started while it is joined
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for server in list(servers):
            if hasattr(server, "stop"):  # lab.servers' demo endpoints
                server.stop()
            else:  # chalice's LocalDevServer: stop serving, then let go of the port
                server.shutdown()
                server.server.server_close()
    finally:
        if aws is not None:
            aws.stop(timeout=STOP_GRACE)


def _set_environment(local: LocalSettings) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{local.aws_port}",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        CERTWATCH_STAGE=STAGE,
        CERTWATCH_PUBLIC_URL=f"http://127.0.0.1:{local.api_port}",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    )
    for name, default in (("CERTWATCH_ALLOW_CIDRS", ALLOW_CIDRS), ("CERTWATCH_ACM_REGIONS", REGION)):
        if not os.environ.get(name, "").strip():  # empty is unset, as for every setting
            os.environ[name] = default
    os.environ.pop("AWS_PROFILE", None)


def _start(
    local: LocalSettings,
    aws_url: str,
    workdir: Path,
    log_file: Path,
    stop: threading.Event,
    threads: list[threading.Thread],
    servers: list[Any],
) -> LocalStack | None:
    """Start everything; None when Ctrl-C came first (what did start is in ``threads`` and ``servers``)."""
    import boto3

    from certwatch.aws.cloudformation import deploy_stack
    from chalicelib import deps
    from chalicelib.domain.truststore import load_trust_store

    api_port = _PortHold(local.api_port)  # the stand-ins below take ports the kernel picks: never the API's
    servers.append(api_port)
    outputs = deploy_stack(boto3.client("cloudformation"), STAGE)
    os.environ.update(
        CERTWATCH_TOPIC_ARN=outputs["AlertsTopicArn"],
        CERTWATCH_CHECK_QUEUE_URL=outputs["CheckQueueUrl"],
        CERTWATCH_ALONE_QUEUE_URL=outputs["AloneCheckQueueUrl"],
    )
    if stop.is_set():
        return None

    demo_root, demo_servers, demo_targets = _demo_endpoints(local.demo_port)
    servers += demo_servers
    demo_ca_file = workdir / "demo-ca.pem"
    demo_ca_file.write_bytes(demo_root.pem)
    domain_demo = _start_domain_demo(demo_root, servers)
    container = deps.Container(trust=load_trust_store().with_anchors([demo_root.cert]))
    deps.use(container)
    _meter_units(container)

    import app as application

    token = _bootstrap_token(container, local.bootstrap_token)
    webhook = _local_webhook(container, local)
    sqs = boto3.client("sqs")
    console_queue = _subscribe_console(boto3.client("sns"), sqs, outputs["AlertsTopicArn"])
    if stop.is_set():
        return None
    api_port.stop()
    servers.append(_serve_api(application.app, local.api_port))

    def loop(name: str, body: Callable[[], object], every: float) -> None:
        """Run ``body`` until the stack stops: again at once when it found work, else after ``every`` s."""

        def run() -> None:
            while not stop.is_set():
                try:
                    busy = body()
                except Exception as exc:  # a local loop keeps going, as Lambda would retry
                    if not stop.is_set():  # once stopping, moto going away is no news
                        say(f"[{name}] error: {exc!r}", sys.stderr)
                    busy = False
                if not busy:
                    stop.wait(every)

        thread = threading.Thread(target=run, name=f"local-{name}", daemon=True)
        thread.start()
        threads.append(thread)

    batch = container.settings.checker_batch
    loop("sweep", lambda: _sweep(application), local.sweep_seconds)
    loop("inventory", lambda: _scan_inventory(application), local.sweep_seconds)
    for _ in range(CHECKERS):
        loop("checker", lambda: _run_checker(application, sqs, outputs["CheckQueueUrl"], batch), IDLE_POLL)
    alone = outputs["AloneCheckQueueUrl"]
    loop("checker_alone", lambda: _run_checker(application, sqs, alone, 10, handler="check_alone"), IDLE_POLL)
    loop("events", lambda: _deliver_events(application, sqs, console_queue, outputs["AlertsTopicArn"]), IDLE_POLL)
    if stop.is_set():
        return None
    api_url = f"http://127.0.0.1:{local.api_port}"
    return LocalStack(
        api_url, aws_url, token, demo_targets, demo_ca_file.resolve(), log_file.resolve(), webhook, domain_demo
    )


class _PortHold:
    """A port bound and not listened on, so that no ephemeral port the kernel hands out is this one."""

    def __init__(self, port: int) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))

    def stop(self) -> None:
        """Let the port go (again is nothing)."""
        self._socket.close()


def _start_domain_demo(demo_root: Any, servers: list[Any]) -> Any:
    """The Cert Spotter and RDAP stand-ins with the demo's story; CT and RDAP are read from them unless set."""
    from lab.domaindemo import start_domain_demo

    domain_demo = start_domain_demo(demo_root)
    servers += domain_demo.servers
    for name, value in domain_demo.environment.items():
        if not os.environ.get(name, "").strip():
            os.environ[name] = value
    return domain_demo


def _local_webhook(container: Any, local: LocalSettings) -> str:
    """CERTWATCH_WEBHOOK_URL as a generic destination, as `certwatch webhook add` would add it; the banner's line."""
    if local.webhook_url is None:
        return "off (set CERTWATCH_WEBHOOK_URL to post signed events)"
    from certwatch.webhooks import add_from_environment

    destination = add_from_environment(container, local.webhook_url, local.webhook_secret)
    secret = "CERTWATCH_WEBHOOK_SECRET" if local.webhook_secret else destination.secret
    return f"posting to CERTWATCH_WEBHOOK_URL as {destination.id}, signed with {secret}"


def _bootstrap_token(container: Any, given: str | None) -> str:
    from chalicelib.domain.tokens import adopt, issue

    now = datetime.now(UTC)
    if given:
        container.store.put_token(adopt(given, "local", admin=True, now=now, name="bootstrap"))
        return given
    token, record = issue("local", admin=True, now=now, name="local stack")
    container.store.put_token(record)
    return token


def _subscribe_console(sns: SNSClient, sqs: SQSClient, topic_arn: str) -> str:
    """A queue subscribed to the alerts topic: what email and Slack subscribers would receive."""
    url = sqs.create_queue(QueueName="certwatch-local-deliveries")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return str(url)


def _serve_api(app: Any, port: int) -> Any:
    from chalice.cli.factory import CLIFactory

    from lab.gateway import local_api_server

    project_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = CLIFactory(project_dir).create_config_obj(chalice_stage_name=STAGE)
    server = local_api_server(app, config, "127.0.0.1", port)
    thread = threading.Thread(
        target=server.server.serve_forever, kwargs={"poll_interval": STOP_POLL}, name="local-api", daemon=True
    )
    thread.start()
    return server


def _scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"local-{time.time_ns()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": {},
    }


def _sweep(application: Any) -> None:
    result = application.sweep(_scheduled_event(), None)
    if result["due"]:
        say(f"[sweep] {result['due']} due, {result['queued']} queued for checking")


def _scan_inventory(application: Any) -> None:
    result = application.scan_inventory(_scheduled_event(), None)
    if result["published"]:
        say(f"[inventory] {result['seen']} certificate(s) in ACM/IAM, {result['published']} event(s)")


def _run_checker(application: Any, sqs: SQSClient, queue_url: str, batch: int, *, handler: str = "check_batch") -> bool:
    """One checker invocation on up to ``batch`` messages, as Lambda's SQS event source makes them.

    SQS hands out ten messages per receive, so several receives fill a batch. Receives never
    wait on the server (moto would hold its one-at-a-time lock while waiting): an empty queue
    is asked again after a short pause. Returns whether there was anything to check.
    """
    messages: list[MessageTypeDef] = []
    while len(messages) < batch:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, batch - len(messages)), AttributeNames=["All"]
        )
        received = answer.get("Messages", [])
        messages += received
        if not received:
            break
    if not messages:
        return False
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_url,
            "awsRegion": REGION,
        }
        for m in messages
    ]
    result = getattr(application, handler)({"Records": records}, None)
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):  # DeleteMessageBatch takes ten
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
        ]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    for message in messages:
        if message["MessageId"] in failed:  # retry soon locally (AWS waits the visibility timeout)
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=5
            )
    name = "checker" if handler == "check_batch" else "checker_alone"
    say(f"[{name}] checked {len(done)} target(s)" + (f", {len(failed)} to retry" if failed else ""))
    return True


def _deliver_events(application: Any, sqs: SQSClient, queue_url: str, topic_arn: str) -> bool:
    """Print the events the topic delivered and hand each to the Slack function; whether there were any."""
    from chalicelib.presentation.event_shapes import read_event
    from chalicelib.presentation.events import email_subject, email_text

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        document = read_event(message["Body"])
        rule = "=" * 78
        say(f"\n{rule}\nSubject: {email_subject(document)}\n\n{email_text(document)}\n{rule}")
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": message["MessageId"],
                        "TopicArn": topic_arn,
                        "Subject": email_subject(document),
                        "Message": message["Body"],
                        "Timestamp": datetime.now(UTC).isoformat(),
                        "MessageAttributes": {},
                    },
                }
            ]
        }
        for name, handler in (("slack", application.post_to_slack), ("webhooks", application.post_to_webhooks)):
            try:
                handler(event, None)
            except Exception as exc:  # in AWS: retried, then the function's failure destination
                say(f"[{name}] not delivered: {exc}", sys.stderr)
    if messages:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return bool(messages)


def _demo_endpoints(first_port: int) -> tuple[Any, list[Any], dict[str, str]]:
    """A few loopback TLS endpoints to try the tour on, under a demo CA the local stack trusts.

    Each is described by what a check finds now (days left as the alert counts them); the
    expiring one has half a day to spare, so the banner and the first alert agree.
    """
    from chalicelib.domain.models import days_until
    from lab.certs import make_ca, make_cert
    from lab.servers import TlsServer

    now = datetime.now(UTC)
    day = timedelta(days=1)
    root = make_ca("certwatch Local Demo Root")
    inter = make_ca("certwatch Local Demo Intermediate", issuer=root)
    names = ["localhost", "127.0.0.1"]
    expiring = now + 5.5 * day
    expired = now - 2.5 * day
    chains = {
        f"expiring in {days_until(expiring, now)} days": [
            make_cert("localhost", sans=names, issuer=inter, not_before=now - 80 * day, not_after=expiring),
            inter,
        ],
        "healthy": [make_cert("localhost", sans=names, issuer=inter), inter],
        f"expired {-days_until(expired, now)} days ago": [
            make_cert("localhost", sans=names, issuer=inter, not_before=now - 90 * day, not_after=expired),
            inter,
        ],
    }
    servers, targets = [], {}
    for offset, (what, chain) in enumerate(chains.items()):
        port = first_port + offset if _free(first_port + offset) else 0
        server = TlsServer(chain, port=port).start()
        servers.append(server)
        targets[what] = f"tls://127.0.0.1:{server.port}"
    return root, servers, targets


def _banner(stack: LocalStack, sweep_seconds: float) -> None:
    slack = os.environ.get("CERTWATCH_SLACK_WEBHOOK_URL")
    demo = "\n".join(f"    {target:<28} {what}" for what, target in stack.demo_targets.items())
    example = next(target for what, target in stack.demo_targets.items() if what.startswith("expiring"))
    print(
        f"""
certwatch local stack is running (stage "local"; Ctrl-C stops it; every start is fresh)

  API           {stack.api_url}          (OpenAPI: {stack.api_url}/openapi.json)
  dashboard     {stack.api_url}/dashboard (paste the admin token below)
  AWS (moto)    {stack.aws_url}
  sweep         every {sweep_seconds:g} s; new targets are checked at once
  inventory     ACM ({os.environ["CERTWATCH_ACM_REGIONS"]}) and IAM on moto, every {sweep_seconds:g} s
  Slack         {"posting to CERTWATCH_SLACK_WEBHOOK_URL" if slack else "off (set CERTWATCH_SLACK_WEBHOOK_URL to post)"}
  webhook       {stack.webhook}
  admin token   {stack.token}
  log           {stack.log_file}  (moto's own warnings and errors)
  demo CA       {stack.demo_ca_file}  (trusted here)

  demo endpoints:
{demo}

Try it:
  export TOKEN={stack.token}
  curl -sS -X POST {stack.api_url}/targets -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"target": "{example}"}}'
  .venv/bin/certwatch check --ca-file {stack.demo_ca_file} {" ".join(stack.demo_targets.values())}
{_domain_demo_lines(stack)}
Events appear below as the email subscribers would read them.
""",
        flush=True,
    )


def _domain_demo_lines(stack: LocalStack) -> str:
    """How to try watched domains on the stand-ins (docs/domains.md): what to send, and what comes of it."""
    demo = stack.domain_demo
    if demo is None:
        return ""

    def post(path: str, body: dict[str, object]) -> str:
        return (
            f'curl -sS -X POST {stack.api_url}/{path} -H "Authorization: Bearer $TOKEN" \\\n'
            f"       -H 'Content-Type: application/json' -d '{json.dumps(body)}'"
        )

    return f"""
Watched domains (Cert Spotter's API and an RDAP server stood in on loopback; docs/domains.md):
  {post("domains", demo.watch_body())}
      the next sweep tells certificate.unexpected_issuance (login.shop.test, from Rogue Demo CA) and
      domain.expiring (the registration ends in 20 days); GET /domains lists legacy.shop.test as unwatched
  {post("targets", demo.target_body())}
      after that sweep: RENEWED_NOT_DEPLOYED (CT has a certificate issued 3 days ago it does not serve)
"""


def _free(port: int) -> bool:
    """Whether a server could listen on the port (connections of a stopped run in TIME_WAIT do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())
