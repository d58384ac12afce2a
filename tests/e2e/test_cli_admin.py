"""`certwatch token ...` against a stack on moto's server, as an operator runs it (--local)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.dynamo import DynamoStore
from chalicelib.stack import deploy_stack
from chalicelib.tokens import authenticate

CERTWATCH = str(Path(sys.executable).parent / "certwatch")


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client(
            "cloudformation",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        deploy_stack(client, "local")
        yield port
    finally:
        server.stop()


def certwatch(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CERTWATCH_LOCAL_AWS_PORT": str(port)}
    return subprocess.run([CERTWATCH, *args, "--local"], capture_output=True, text=True, env=env, timeout=60)


def store(port: int) -> DynamoStore:
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return DynamoStore(client, "certwatch-local")


def test_token_create_prints_a_working_token_once_and_stores_only_its_hash(moto_port: int) -> None:
    done = certwatch(moto_port, "token", "create", "--team", "web", "--name", "ci")

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("cw_")
    assert "shown only now" in done.stderr
    principal = authenticate(f"Bearer {token}", store(moto_port))
    assert (principal.team, principal.admin) == ("web", False)
    record = store(moto_port).get_token(principal.token_id)
    assert record is not None
    assert token.split("_", 2)[2] not in repr(record)  # the secret itself is never stored


def test_token_list_shows_ids_teams_and_names_but_never_tokens(moto_port: int) -> None:
    created = certwatch(moto_port, "token", "create", "--team", "ops", "--admin", "--name", "on-call")
    token = created.stdout.strip()

    listing = certwatch(moto_port, "token", "list")

    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["ID", "TEAM", "ADMIN", "CREATED", "NAME"]
    token_id = token.split("_")[1]
    (row,) = [r for r in rows if r.startswith(token_id)]
    assert row.split()[1:3] == ["ops", "yes"]
    assert "on-call" in row
    assert token not in listing.stdout


def test_token_revoke_makes_the_token_fail_at_once(moto_port: int) -> None:
    token = certwatch(moto_port, "token", "create", "--team", "web").stdout.strip()
    token_id = token.split("_")[1]

    revoked = certwatch(moto_port, "token", "revoke", token_id)

    assert revoked.returncode == 0, revoked.stderr
    assert store(moto_port).get_token(token_id) is None
    again = certwatch(moto_port, "token", "revoke", token_id)
    assert again.returncode == 1
    assert "no token" in again.stderr


def test_a_bad_team_name_is_refused_with_a_message(moto_port: int) -> None:
    done = certwatch(moto_port, "token", "create", "--team", "Not A Team")

    assert done.returncode == 1
    assert "team 'Not A Team'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_stack_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = int(probe.getsockname()[1])

    done = certwatch(dead_port, "token", "list")

    assert done.returncode == 1
    assert "AWS request failed" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_admin_command_explains_itself() -> None:
    for args in (["token", "--help"], ["token", "create", "--help"], ["token", "revoke", "--help"]):
        done = subprocess.run([CERTWATCH, *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0
        assert "--local" in done.stdout
        assert "--stage" in done.stdout
