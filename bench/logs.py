"""What the checker writes to CloudWatch Logs per check: the figure bench/cost.py bills logs by.

    .venv/bin/python -m bench.logs                  # 100 targets in batches of 25, checked twice
    .venv/bin/python -m bench.logs --targets 200 --teams 4

Runs the checker function's own handler (``app.check_batch``) on moto, as the SQS event source
calls it, over targets at a TLS server on loopback, with the settings a deployed stage has
(``POWERTOOLS_LOG_LEVEL=INFO``, its EMF metrics on), and counts the bytes the handler writes to
standard output (what Lambda sends to CloudWatch Logs) at the file descriptor, so the logger's
lines and the metrics' EMF documents are both counted. Lambda's own START, END and REPORT lines
(about ``PLATFORM_BYTES`` per invocation) are added. Two rounds: every target's first check (its
events announced) and the same verdict checked again, the round a deployment repeats.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

# START, END and REPORT (duration, billed duration, memory, max memory used, init duration)
# lines of one invocation, as Lambda writes them: about this many bytes.
PLATFORM_BYTES = 330
REGION = "us-east-1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--teams", type=int, default=1, help="teams the targets are spread over (default 1)")
    parser.add_argument("--batch", type=int, default=25, help="messages per invocation (default 25, as deployed)")
    args = parser.parse_args(argv)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION=REGION,
        CERTWATCH_STAGE="bench",
        CERTWATCH_ALLOW_CIDRS="127.0.0.0/8",
        POWERTOOLS_SERVICE_NAME="certwatch",
        POWERTOOLS_LOG_LEVEL="INFO",
        POWERTOOLS_METRICS_DISABLED="false",
    )
    import boto3
    from moto import mock_aws

    from certwatch.aws.cloudformation import deploy_stack
    from chalicelib import deps
    from chalicelib.domain.endpoints import parse_target
    from chalicelib.domain.targets import Target, TargetSpec, new_target_id
    from chalicelib.domain.truststore import load_trust_store
    from lab.certs import make_ca, make_cert
    from lab.inprocess import one_request_at_a_time
    from lab.servers import TlsServer

    root = make_ca("certwatch bench root")
    server = TlsServer([make_cert("*.bench.example", sans=["*.bench.example"], issuer=root)]).start()
    with mock_aws(), one_request_at_a_time():
        quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
        with quiet[0], quiet[1], warnings.catch_warnings():
            warnings.simplefilter("ignore")  # moto's CloudFormation skips the alarms, and says so
            outputs = deploy_stack(boto3.client("cloudformation"), "bench")
        os.environ.update(
            CERTWATCH_TOPIC_ARN=outputs["AlertsTopicArn"],
            CERTWATCH_CHECK_QUEUE_URL=outputs["CheckQueueUrl"],
            CERTWATCH_ALONE_QUEUE_URL=outputs["AloneCheckQueueUrl"],
        )
        container = deps.Container(trust=load_trust_store().with_anchors([root.cert]))
        deps.use(container)
        import app

        now = container.clock()
        targets = [
            Target(
                id=new_target_id(),
                team=f"team{index % args.teams}",
                spec=TargetSpec(parse_target(f"127.0.0.1:{server.port}", sni=f"n{index}.bench.example")),
                created_at=now,
                updated_at=now,
                scheduled_at=now,
            )
            for index in range(args.targets)
        ]
        for target in targets:
            container.store.create_target(target)
        print(
            f"checker logs: {args.targets} targets of {args.teams} team(s), batches of {args.batch}, "
            f"POWERTOOLS_LOG_LEVEL=INFO, EMF metrics on; Lambda's START/END/REPORT counted as {PLATFORM_BYTES} bytes"
        )
        for label in ("first check", "unchanged check"):
            written, invocations = _round(app, targets, args.batch, outputs["AloneCheckQueueUrl"])
            unchecked = [t.id for t in targets if container.store.get_target(t.team, t.id).latest is None]
            if unchecked:
                raise RuntimeError(f"{len(unchecked)} targets were not checked")
            total = written + invocations * PLATFORM_BYTES
            print(
                f"  {label:<16} {total / args.targets:,.0f} bytes per check "
                f"({written / invocations:,.0f} from the handler and {PLATFORM_BYTES} from Lambda per invocation)"
            )
    server.stop()
    return 0


def _round(app: Any, targets: list[Any], batch: int, alone_url: str) -> tuple[int, int]:
    """Every target checked once through the handler (and checker_alone's, for what a batch hands on to it):
    the bytes they wrote, and the invocations."""
    import boto3

    from bench.batch import _records

    sqs = boto3.client("sqs")
    written = invocations = 0
    for start in range(0, len(targets), batch):
        records = _records(targets[start : start + batch])  # as bench-batch hands the worker its batches
        with _standard_output() as captured:
            answer = app.check_batch({"Records": records}, None)
        if answer.get("batchItemFailures"):
            raise RuntimeError(f"the checker failed messages: {answer}")
        written += captured()
        invocations += 1
        while handed := sqs.receive_message(QueueUrl=alone_url, MaxNumberOfMessages=10).get("Messages", []):
            alone = [{"messageId": m["MessageId"], "body": m["Body"]} for m in handed]
            with _standard_output() as captured:
                app.check_alone({"Records": alone}, None)
            written += captured()
            invocations += 1
            sqs.delete_message_batch(
                QueueUrl=alone_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(handed)],
            )
    return written, invocations


@contextlib.contextmanager
def _standard_output() -> Iterator[Any]:
    """Everything written to file descriptor 1 meanwhile (print, logging's handlers, C code): its size."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        size = 0
        try:
            yield lambda: size
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            size = sink.seek(0, io.SEEK_END)


if __name__ == "__main__":
    sys.exit(main())
