"""`make deploy` rehearsed: ``infra/deploy.py deploy`` against a moto server, read back as an operator would.

One moto server process (ThreadedMotoServer on a free loopback port) plays the account;
``infra/deploy.py`` runs in a copy of the project (it writes .chalice/config.json and
.chalice/deployed/) with ``AWS_ENDPOINT_URL`` pointing at it, and packages from the wheelhouse
(``PIP_NO_INDEX``), as ``make package`` does. The module's fixture runs the whole life of a
stage once, deploy -> deploy again -> destroy --data, and keeps what it read back after each
step; the tests judge those readings. moto's API import gap is bridged by a test-only shim
(tests/e2e/deploy_helpers.py); nothing else is faked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from app import app
from chalicelib.domain.inventory import ACM_EVENT_TYPES
from chalicelib.settings import Settings, stage_environment
from infra.merge_template import GATEWAY_RESPONSES
from tests.e2e.deploy_helpers import (
    ROOT,
    WHEELHOUSE,
    Clients,
    leftovers,
    moto_imports_chalice_swagger,
    wheelhouse,
    wiring,
)
from tests.support.policy import chalice_functions, policy_file

STAGE = "prod"
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
PACKAGE_LIMIT = 10 * 1024 * 1024
# What the project copy needs to deploy (the rest of the repository is not deployed).
PROJECT = ["app.py", "requirements.txt", "chalicelib", "infra", ".chalice"]
NOT_COPIED = shutil.ignore_patterns("__pycache__", "deployed", "deployments", "venv")


@dataclass(frozen=True)
class Step:
    """One run of infra/deploy.py: its exit status and output."""

    returncode: int
    output: str


@dataclass(frozen=True)
class Rehearsal:
    """What the stage looked like after each step of its life on the moto server."""

    first: Step
    after_first: dict[str, Any]
    second: Step
    after_second: dict[str, Any]
    package: Path
    destroy: Step
    after_destroy: dict[str, list[str]]


def _run(project: Path, env: dict[str, str], *arguments: str) -> Step:
    done = subprocess.run(
        [sys.executable, str(project / "infra" / "deploy.py"), *arguments, "--stage", STAGE],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return Step(done.returncode, done.stdout + done.stderr)


def _copy_project(project: Path) -> Path:
    for name in PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=NOT_COPIED)
        else:
            shutil.copy(source, project / name)
    return project


def _environment(endpoint: str, **more: str) -> dict[str, str]:
    """The deploying shell's environment, pointed at ``endpoint``; none of this machine's AWS or certwatch settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CERTWATCH_", "PIP_")) and k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    return env | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "rehearsal",
        "AWS_SECRET_ACCESS_KEY": "rehearsal",
        "AWS_EC2_METADATA_DISABLED": "true",
        **more,
    }


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    wheels = wheelhouse()
    project = _copy_project(tmp_path_factory.mktemp("project"))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with moto_imports_chalice_swagger():
        server.start()
        try:
            endpoint = "http://{}:{}".format(*server.get_host_and_port())
            reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            with urllib.request.urlopen(reset, timeout=10):
                pass  # a fresh account: anything found later was made by the deploy
            session = boto3.session.Session(
                aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal", region_name=REGION
            )
            aws = Clients(session, endpoint)

            env = _environment(endpoint, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels))
            first = _run(project, env, "deploy")
            assert first.returncode == 0, first.output[-5000:]
            after_first = wiring(aws, STAGE)
            second = _run(project, env, "deploy")
            after_second = wiring(aws, STAGE) if second.returncode == 0 else {}
            (package,) = (project / ".chalice" / "deployments").glob("*.zip")
            destroy = _run(project, env, "destroy", "--data")
            yield Rehearsal(first, after_first, second, after_second, package, destroy, leftovers(aws))
        finally:
            server.stop()


def _settings() -> Settings:
    return Settings.from_env({**stage_environment(STAGE), "CERTWATCH_STAGE": STAGE})


def _arn(function: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{chalice_functions(STAGE)[function].function_name}"


def test_the_deploy_runs_every_step(rehearsal: Rehearsal) -> None:
    for step in ("1/4 data stack", "2/4 recording", "3/4 chalice deploy", "4/4 settings Chalice cannot express"):
        assert step in rehearsal.first.output
    assert f"certwatch-{STAGE}-checker: ReportBatchItemFailures on" in rehearsal.first.output
    assert rehearsal.after_first["stack"]["status"] == "CREATE_COMPLETE"


def test_every_function_has_a_role_of_its_own_with_its_policy(rehearsal: Rehearsal) -> None:
    deployed = rehearsal.after_first["functions"]
    expected = chalice_functions(STAGE)
    assert set(deployed) == {f.function_name for f in expected.values()}
    roles = [function["role"] for function in deployed.values()]
    assert len(set(roles)) == len(roles), roles
    for name, function in expected.items():
        found = deployed[function.function_name]
        assert found["handler"] == function.handler
        assert found["runtime"] == f"python{sys.version_info[0]}.{sys.version_info[1]}"
        assert list(found["role_policies"].values()) == [policy_file(STAGE, name)], name
        # the stage's resources, as recorded from the data stack
        assert found["environment"]["CERTWATCH_TABLE"] == rehearsal.after_first["stack"]["outputs"]["TableName"]


def test_the_checker_reads_the_check_queue_with_partial_batch_responses(rehearsal: Rehearsal) -> None:
    settings = _settings()
    (mapping,) = rehearsal.after_first["mappings"]
    assert mapping == {
        "EventSourceArn": rehearsal.after_first["stack"]["outputs"]["CheckQueueArn"],
        "FunctionArn": _arn("checker"),
        "BatchSize": settings.checker_batch,
        "MaximumBatchingWindowInSeconds": 5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": settings.checker_max_concurrency},
    }


def test_each_schedule_and_the_acm_rule_target_their_function_which_lets_them_invoke_it(rehearsal: Rehearsal) -> None:
    settings = _settings()
    rules = rehearsal.after_first["rules"]
    expected = {
        "sweep": {"schedule": f"rate({settings.sweep_minutes} minutes)", "pattern": None},
        "inventory": {
            "schedule": f"rate({settings.inventory_hours} hour{'s' if settings.inventory_hours != 1 else ''})",
            "pattern": None,
        },
        "acm_events": {
            "schedule": None,
            "pattern": {"source": ["aws.acm"], "detail-type": sorted(ACM_EVENT_TYPES)},
        },
    }
    by_target = {tuple(rule["targets"]): rule for rule in rules.values()}
    assert len(rules) == len(expected), rules
    for function, wanted in expected.items():
        rule = by_target[(_arn(function),)]
        assert {"schedule": rule["schedule"], "pattern": rule["pattern"]} == wanted, function
        assert rule["state"] == "ENABLED"
        invokers = rehearsal.after_first["functions"][chalice_functions(STAGE)[function].function_name]["invokers"]
        assert ("events.amazonaws.com", rule["arn"]) in invokers, function


def test_slack_and_webhooks_listen_to_the_alerts_topic_and_dead_letter_their_failures(rehearsal: Rehearsal) -> None:
    outputs = rehearsal.after_first["stack"]["outputs"]
    assert rehearsal.after_first["subscriptions"] == sorted([("lambda", _arn("slack")), ("lambda", _arn("webhooks"))])
    for name in ("slack", "webhooks"):
        function = rehearsal.after_first["functions"][chalice_functions(STAGE)[name].function_name]
        assert function["invoke_config"] == {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": outputs["NotifyDeadLetterQueueArn"]}},
        }, name
        assert ("sns.amazonaws.com", outputs["AlertsTopicArn"]) in function["invokers"], name


def test_the_api_serves_every_route_of_app_py_behind_the_token_authorizer(rehearsal: Rehearsal) -> None:
    (api,) = rehearsal.after_first["apis"].values()
    handler = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{_arn('api_handler')}/invocations"
    expected = {
        f"{method} {path}": {
            "authorization": "CUSTOM" if route.authorizer else None,
            "authorizer": "token_auth" if route.authorizer else None,
            "integration": handler,
        }
        for path, routes in app.routes.items()
        for method, route in routes.items()
    }
    # Chalice answers CORS preflights itself (mock integrations); they are not routes of app.py.
    routes = {key: route for key, route in api["routes"].items() if not key.startswith("OPTIONS ")}
    assert routes == expected
    assert api["authorizers"] == {
        "token_auth": {
            "type": "TOKEN",
            "authorizerUri": handler.replace(_arn("api_handler"), _arn("token_auth")),
            "identitySource": "method.request.header.Authorization",
        }
    }
    assert api["stages"] == ["api"]
    for function in ("api_handler", "token_auth"):
        invokers = rehearsal.after_first["functions"][chalice_functions(STAGE)[function].function_name]["invokers"]
        assert ("apigateway.amazonaws.com", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['id']}/*") in invokers


def test_the_gateway_responses_answer_in_the_api_error_shape(rehearsal: Rehearsal) -> None:
    (api,) = rehearsal.after_first["apis"].values()
    answers = {kind: api["gateway_responses"][kind] for kind in GATEWAY_RESPONSES}
    for kind, (status, code, _) in GATEWAY_RESPONSES.items():
        assert answers[kind]["status"] == (None if status is None else str(status)), kind  # None: API Gateway's own
        assert f'"code": "{code}"' in answers[kind]["templates"]["application/json"], kind


def test_a_second_deploy_succeeds_and_changes_nothing(rehearsal: Rehearsal) -> None:
    assert rehearsal.second.returncode == 0, rehearsal.second.output[-5000:]
    assert "Reusing existing deployment package" in rehearsal.second.output
    assert "ReportBatchItemFailures on" not in rehearsal.second.output  # already set: nothing to change
    assert rehearsal.after_second == rehearsal.after_first


def test_destroy_with_data_leaves_nothing_behind(rehearsal: Rehearsal) -> None:
    assert rehearsal.destroy.returncode == 0, rehearsal.destroy.output[-5000:]
    assert f"deleted the data stack certwatch-{STAGE}-data" in rehearsal.destroy.output
    assert rehearsal.after_destroy == {kind: [] for kind in rehearsal.after_destroy}


def test_the_deployment_package_is_small_and_holds_no_dev_dependency(rehearsal: Rehearsal) -> None:
    assert rehearsal.package.stat().st_size < PACKAGE_LIMIT
    with zipfile.ZipFile(rehearsal.package) as package:
        names = package.namelist()
        top = {name.split("/")[0] for name in names}
        chalice_files = {name for name in package.namelist() if name.startswith("chalice/")}
        page = {name for name in package.namelist() if name.startswith("chalicelib/http/static/")}
    # The runtime's wheels (requirements.txt and what they need), our code, and Chalice's runtime module.
    allowed = {"app.py", "chalicelib", "chalice"}
    for wheel in WHEELHOUSE.glob("*.whl"):  # what the fixture packaged from
        with zipfile.ZipFile(wheel) as archive:
            allowed |= {name.split("/")[0] for name in archive.namelist()}
    assert top <= allowed, sorted(top - allowed)
    assert chalice_files <= {"chalice/__init__.py", "chalice/app.py", "chalice/app.pyi"}, chalice_files
    assert page == {
        f"chalicelib/http/static/dashboard.{kind}" for kind in ("html", "css", "js")
    }  # GET /dashboard's files
    for development in ("boto3", "botocore", "moto", "pytest", "_pytest", "mypy", "ruff", "cfnlint", "werkzeug"):
        assert development not in top
    # What only the operator runs (certwatch/aws/: the data stack, SSM writes, subscriptions) is not shipped.
    assert "certwatch" not in top
    assert not {name for name in names if name.startswith("chalicelib/") and "cloudformation" in name}


def test_a_failing_step_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there once the probe is closed
    env = _environment(nobody, AWS_MAX_ATTEMPTS="1")

    deploy = _run(project, env, "deploy")

    assert deploy.returncode == 1
    assert "Traceback" not in deploy.output
    last = deploy.output.splitlines()[-1]
    assert last.startswith(f'deploy stopped: Could not connect to the endpoint URL: "{nobody}/"'), deploy.output

    # a step run by chalice: chalice says why, then one line says which step stopped
    deployed = project / ".chalice" / "deployed"
    deployed.mkdir()
    (deployed / f"{STAGE}.json").write_text(json.dumps(GONE))
    destroy = _run(project, env, "destroy")

    assert destroy.returncode == 1
    last = destroy.output.splitlines()[-1]
    assert last == f"destroy stopped: `chalice delete --stage {STAGE}` failed (exit status 2)", destroy.output
    assert "CalledProcessError" not in destroy.output


# What `chalice deploy` records of one function (.chalice/deployed/STAGE.json), for `chalice delete` to remove.
GONE = {
    "schema_version": "2.0",
    "backend": "api",
    "resources": [
        {
            "name": "sweep",
            "resource_type": "lambda_function",
            "lambda_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:certwatch-{STAGE}-sweep",
        }
    ],
}
