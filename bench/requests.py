"""The client's CPU per DynamoDB request: what botocore costs a Lambda, beside what the request waits for.

Starts moto's server in this process (a thread of its own) and times, with the calling thread's own
CPU clock (``time.thread_time``, so the server's work is not counted), the requests a check makes:

    GetItem          an alert state, a team's settings (ConsistentRead)
    Query            a target's certificate history
    UpdateItem       an unchanged check's summary
    BatchGetItem     the alert states of a batch of ``--keys`` targets in one request

Prints the median CPU milliseconds of ``--requests`` of each. On Lambda at 1,024 MB a vCPU is about
0.58 of one; the figures here are this machine's.

    .venv/bin/python -m bench.requests
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def cpu_ms(request: Callable[[], Any], times: int) -> float:
    """The median CPU of this thread over ``times`` calls of ``request`` (one call first, to warm it)."""
    request()
    spent = []
    for _ in range(times):
        began = time.thread_time()
        request()
        spent.append(time.thread_time() - began)
    return statistics.median(spent) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind (default 200)")
    parser.add_argument("--keys", type=int, default=25, help="keys of the BatchGetItem (default 25, a batch)")
    args = parser.parse_args(argv)
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ[name] = value

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
        client.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        keys = [{"pk": {"S": "TEAM#bench"}, "sk": {"S": f"A#tg_{n:020d}"}} for n in range(args.keys)]
        for key in keys:
            client.put_item(TableName="bench", Item=key | {"fingerprint": {"S": "f" * 64}, "failures": {"N": "0"}})
        prefix = {":pk": {"S": "TEAM#bench"}, ":prefix": {"S": "A#tg_"}}
        kinds: dict[str, Callable[[], Any]] = {
            "GetItem": lambda: client.get_item(TableName="bench", Key=keys[0], ConsistentRead=True),
            "Query": lambda: client.query(
                TableName="bench",
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=prefix,
                Limit=1,
            ),
            "UpdateItem": lambda: client.update_item(
                TableName="bench",
                Key=keys[0],
                UpdateExpression="SET failures = :n",
                ExpressionAttributeValues={":n": {"N": "0"}},
            ),
            f"BatchGetItem of {args.keys}": lambda: client.batch_get_item(
                RequestItems={"bench": {"Keys": keys, "ConsistentRead": True}}
            ),
        }
        spent = {kind: cpu_ms(request, args.requests) for kind, request in kinds.items()}
    finally:
        server.stop()
    print(f"the client's CPU per DynamoDB request, median of {args.requests} (botocore, moto's server on loopback):")
    for kind, ms in spent.items():
        print(f"  {kind:<20} {ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
