"""The local stack (`make run`): certwatch's whole pipeline on this machine, no AWS account needed.

moto's server plays AWS on 127.0.0.1, the resources come from the same infra/template.yaml a
deployment uses, the API is served by Chalice's local server, and the Lambda handlers of app.py
run on what the queues deliver: the sweep on a short schedule, the checker on the check queue,
the Slack and webhooks functions on what the alerts topic publishes. Every event's email text is printed.

Settings (environment): PORT (API, 8000), CERTWATCH_LOCAL_AWS_PORT (moto, 5000),
CERTWATCH_SWEEP_SECONDS (60), CERTWATCH_SLACK_WEBHOOK_URL (post events there),
CERTWATCH_WEBHOOK_URL and CERTWATCH_WEBHOOK_SECRET (one signed webhook destination, added at start;
loopback and plain http are allowed here),
CERTWATCH_BOOTSTRAP_TOKEN (use this admin token instead of a new one),
CERTWATCH_ALLOW_CIDRS (127.0.0.0/8,::1/128), CERTWATCH_DEMO_PORT (9441: first demo endpoint),
CERTWATCH_ACM_REGIONS (us-east-1: the local ACM scanned every sweep).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

STAGE = "local"
REGION = "us-east-1"


@dataclass
class LocalStack:
    api_url: str
    aws_url: str
    token: str
    demo_targets: dict[str, str]
    webhook: str = ""


def main() -> int:
    api_port = int(os.environ.get("PORT", "8000"))
    aws_port = int(os.environ.get("CERTWATCH_LOCAL_AWS_PORT", "5000"))
    sweep_seconds = float(os.environ.get("CERTWATCH_SWEEP_SECONDS", "60"))
    for port, what in ((aws_port, "CERTWATCH_LOCAL_AWS_PORT"), (api_port, "PORT")):
        if not _free(port):
            print(f"port {port} is in use: stop what uses it, or set {what} to another port", file=sys.stderr)
            return 1
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    aws_url = f"http://127.0.0.1:{aws_port}"
    _set_environment(aws_url, api_port)

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server would log every AWS call

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
    moto.start()
    threads: list[threading.Thread] = []
    servers: list[Any] = []
    try:
        stack = _start(aws_url, api_port, sweep_seconds, stop, threads, servers)
        _banner(stack, sweep_seconds)
        while not stop.wait(0.5):
            pass
        print("\nstopping certwatch local stack ...", flush=True)
    finally:
        stop.set()
        for server in servers:
            server.stop() if hasattr(server, "stop") else server.shutdown()
        for thread in threads:
            thread.join(timeout=5)
        moto.stop()
    return 0


def _set_environment(aws_url: str, api_port: int) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL=aws_url,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        CERTWATCH_STAGE=STAGE,
        CERTWATCH_PUBLIC_URL=f"http://127.0.0.1:{api_port}",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    )
    os.environ.setdefault("CERTWATCH_ALLOW_CIDRS", "127.0.0.0/8,::1/128")
    os.environ.setdefault("CERTWATCH_ACM_REGIONS", REGION)
    os.environ.pop("AWS_PROFILE", None)


def _start(
    aws_url: str,
    api_port: int,
    sweep_seconds: float,
    stop: threading.Event,
    threads: list[threading.Thread],
    servers: list[Any],
) -> LocalStack:
    import boto3

    from chalicelib import deps
    from chalicelib.adapters.cloudformation import deploy_stack
    from chalicelib.domain.truststore import load_trust_store

    outputs = deploy_stack(boto3.client("cloudformation"), STAGE)
    os.environ["CERTWATCH_TOPIC_ARN"] = outputs["AlertsTopicArn"]
    os.environ["CERTWATCH_CHECK_QUEUE_URL"] = outputs["CheckQueueUrl"]

    demo_root, demo_servers, demo_targets = _demo_endpoints()
    servers += demo_servers
    container = deps.Container(trust=load_trust_store().with_anchors([demo_root]))
    deps.use(container)

    import app as application

    token = _bootstrap_token(container)
    webhook = _local_webhook(container)
    sqs = boto3.client("sqs")
    console_queue = _subscribe_console(boto3.client("sns"), sqs, outputs["AlertsTopicArn"])
    api = _serve_api(application.app, api_port)
    servers.append(api)

    def loop(name: str, body: Callable[[], None], every: float) -> None:
        def run() -> None:
            while not stop.is_set():
                try:
                    body()
                except Exception as exc:  # a local loop keeps going, as Lambda would retry
                    print(f"[{name}] error: {exc!r}", file=sys.stderr, flush=True)
                stop.wait(every)

        thread = threading.Thread(target=run, name=f"local-{name}", daemon=True)
        thread.start()
        threads.append(thread)

    loop("sweep", lambda: _sweep(application), sweep_seconds)
    loop("inventory", lambda: _scan_inventory(application), sweep_seconds)
    loop("checker", lambda: _run_checker(application, sqs, outputs["CheckQueueUrl"]), 0.2)
    loop("events", lambda: _deliver_events(application, sqs, console_queue, outputs["AlertsTopicArn"]), 0.2)
    return LocalStack(f"http://127.0.0.1:{api_port}", aws_url, token, demo_targets, webhook)


def _local_webhook(container: Any) -> str:
    """CERTWATCH_WEBHOOK_URL as a generic destination, as `certwatch webhook add` would add it; the banner's line."""
    url = os.environ.get("CERTWATCH_WEBHOOK_URL")
    if not url:
        return "off (set CERTWATCH_WEBHOOK_URL to post signed events)"
    from certwatch.webhooks import add_from_environment

    given = os.environ.get("CERTWATCH_WEBHOOK_SECRET") or None
    destination = add_from_environment(container, url, given)
    secret = "CERTWATCH_WEBHOOK_SECRET" if given else destination.secret
    return f"posting to CERTWATCH_WEBHOOK_URL as {destination.id}, signed with {secret}"


def _bootstrap_token(container: Any) -> str:
    from chalicelib.domain.tokens import adopt, issue

    given = os.environ.get("CERTWATCH_BOOTSTRAP_TOKEN")
    now = datetime.now(UTC)
    if given:
        container.store.put_token(adopt(given, "local", admin=True, now=now, name="bootstrap"))
        return given
    token, record = issue("local", admin=True, now=now, name="local stack")
    container.store.put_token(record)
    return token


def _subscribe_console(sns: Any, sqs: Any, topic_arn: str) -> str:
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
    thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
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
        print(f"[sweep] {result['due']} due, {result['queued']} queued for checking", flush=True)


def _scan_inventory(application: Any) -> None:
    result = application.scan_inventory(_scheduled_event(), None)
    if result["published"]:
        print(f"[inventory] {result['seen']} certificate(s) in ACM/IAM, {result['published']} event(s)", flush=True)


def _run_checker(application: Any, sqs: Any, queue_url: str) -> None:
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"])
    messages = answer.get("Messages", [])
    if not messages:
        return
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
    result = application.check_batch({"Records": records}, None)
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )
    for message in messages:
        if message["MessageId"] in failed:  # retry soon locally (AWS waits the visibility timeout)
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=5
            )
    print(f"[checker] checked {len(done)} target(s)" + (f", {len(failed)} to retry" if failed else ""), flush=True)


def _deliver_events(application: Any, sqs: Any, queue_url: str, topic_arn: str) -> None:
    from chalicelib.presentation.events import email_subject, email_text

    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    for message in answer.get("Messages", []):
        document = json.loads(message["Body"])
        rule = "=" * 78
        print(f"\n{rule}\nSubject: {email_subject(document)}\n\n{email_text(document)}\n{rule}", flush=True)
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
                print(f"[{name}] not delivered: {exc}", file=sys.stderr, flush=True)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _demo_endpoints() -> tuple[Any, list[Any], dict[str, str]]:
    """A few loopback TLS endpoints to try the tour on, under a demo CA the local stack trusts."""
    from lab.certs import make_ca, make_cert
    from lab.servers import TlsServer

    now = datetime.now(UTC)
    day = timedelta(days=1)
    root = make_ca("certwatch Local Demo Root")
    inter = make_ca("certwatch Local Demo Intermediate", issuer=root)
    names = ["localhost", "127.0.0.1"]
    chains = {
        "expiring in 5 days": [
            make_cert("localhost", sans=names, issuer=inter, not_before=now - 80 * day, not_after=now + 5 * day),
            inter,
        ],
        "healthy": [make_cert("localhost", sans=names, issuer=inter), inter],
        "expired": [
            make_cert("localhost", sans=names, issuer=inter, not_before=now - 90 * day, not_after=now - 2 * day),
            inter,
        ],
    }
    first = int(os.environ.get("CERTWATCH_DEMO_PORT", "9441"))
    servers, targets = [], {}
    for offset, (what, chain) in enumerate(chains.items()):
        port = first + offset if _free(first + offset) else 0
        server = TlsServer(chain, port=port).start()
        servers.append(server)
        targets[what] = f"tls://127.0.0.1:{server.port}"
    return root.cert, servers, targets


def _banner(stack: LocalStack, sweep_seconds: float) -> None:
    slack = os.environ.get("CERTWATCH_SLACK_WEBHOOK_URL")
    demo = "\n".join(f"    {target:<28} {what}" for what, target in stack.demo_targets.items())
    example = stack.demo_targets["expiring in 5 days"]
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

  demo endpoints (their CA is trusted here):
{demo}

Try it:
  export TOKEN={stack.token}
  curl -sS -X POST {stack.api_url}/targets -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"target": "{example}"}}'

Events appear below as the email subscribers would read them.
""",
        flush=True,
    )


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
