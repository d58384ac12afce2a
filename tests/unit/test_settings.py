"""Settings from the environment: every variable checked, a bad one named in one line with what is allowed."""

from __future__ import annotations

import re

import pytest

from chalicelib.domain.renewalinfo import directory_table
from chalicelib.errors import ConfigurationError, SettingError
from chalicelib.settings import Settings, local_aws_port, named_stage, operator_settings, settings_or_exit


def test_an_empty_environment_gives_the_defaults_and_empty_variables_count_as_unset() -> None:
    assert Settings.from_env({}) == Settings.for_stage("dev")
    assert Settings.from_env({"CERTWATCH_CHECK_TIMEOUT": "", "CERTWATCH_SWEEP_MINUTES": " "}) == Settings.for_stage(
        "dev"
    )


def test_good_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "CERTWATCH_STAGE": "prod_eu-1",
            "CERTWATCH_CHECK_TIMEOUT": "2.5",
            "CERTWATCH_CHECK_CONCURRENCY": "8",
            "CERTWATCH_SWEEP_MINUTES": "5",
            "CERTWATCH_CHECKER_BATCH": "10",
            "CERTWATCH_CHECKER_MAX_CONCURRENCY": "2",
            "CERTWATCH_UNREACHABLE_AFTER": "3",
            "CERTWATCH_REPEAT_CRITICAL_HOURS": "0",
            "CERTWATCH_PUBLIC_URL": "https://api.example.com/api",
            "CERTWATCH_ACM_REGIONS": "us-east-1, eu-west-1,us-gov-west-1",
            "CERTWATCH_ACM_TEAM": "platform",
            "CERTWATCH_INVENTORY_HOURS": "12",
            "CERTWATCH_SCAN_IAM": "FALSE",
            "CERTWATCH_ALLOW_CIDRS": "10.0.0.0/8, fd00::/8",
        }
    )

    assert (settings.stage, settings.table_name) == ("prod_eu-1", "certwatch-prod_eu-1")
    assert (settings.check_timeout, settings.check_concurrency, settings.sweep_minutes) == (2.5, 8, 5)
    assert (settings.checker_batch, settings.checker_max_concurrency, settings.unreachable_after) == (10, 2, 3)
    assert settings.repeat_critical_hours is None  # 0 is off
    assert settings.acm_regions == ("us-east-1", "eu-west-1", "us-gov-west-1")
    assert (settings.acm_team, settings.inventory_hours, settings.scan_iam) == ("platform", 12, False)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("CERTWATCH_STAGE", "my stage", "letters, digits"),
        ("CERTWATCH_CHECK_TIMEOUT", "abc", "seconds above 0, at most 60"),
        ("CERTWATCH_CHECK_TIMEOUT", "0", "seconds above 0"),
        ("CERTWATCH_CHECK_TIMEOUT", "nan", "seconds above 0"),
        ("CERTWATCH_CHECK_TIMEOUT", "600", "at most 60"),
        ("CERTWATCH_CHECK_CONCURRENCY", "0", "from 1 to 256"),
        ("CERTWATCH_CHECK_CONCURRENCY", "1e3", "whole number"),
        ("CERTWATCH_SWEEP_MINUTES", "15.5", "whole number from 1 to 1440"),
        ("CERTWATCH_CHECKER_BATCH", "99999999999", "from 1 to 10000"),
        ("CERTWATCH_CHECKER_MAX_CONCURRENCY", "1", "from 2 to 1000"),
        ("CERTWATCH_UNREACHABLE_AFTER", "-1", "from 1 to 100"),
        ("CERTWATCH_REPEAT_CRITICAL_HOURS", "soon", "from 0 to 8760"),
        ("CERTWATCH_PUBLIC_URL", "api.example.com", "it does not start with http:// or https://"),
        ("CERTWATCH_PUBLIC_URL", "http://[::1", "it cannot be read as a URL"),
        ("CERTWATCH_PUBLIC_URL", "https://api.example.com:99999", "it cannot be read as a URL"),
        ("CERTWATCH_PUBLIC_URL", "https:///api", "it has no host"),
        ("CERTWATCH_PUBLIC_URL", "https://api.example.com/#top", "it has a query or fragment"),
        ("CERTWATCH_ACM_REGIONS", "us-east-1,mars", "'mars' is not an AWS region"),
        ("CERTWATCH_ACM_TEAM", "Platform", "lower-case letters"),
        ("CERTWATCH_INVENTORY_HOURS", "0", "from 1 to 720"),
        ("CERTWATCH_SCAN_IAM", "no", "true or false"),
        ("CERTWATCH_ALLOW_CIDRS", "10.0.0.0/33", "'10.0.0.0/33' is not a network"),
        ("CERTWATCH_SLACK_PARAMETER", "slack-url", "SSM parameter name"),
        ("CERTWATCH_REVOCATION", "maybe", "on or off"),
        ("CERTWATCH_TABLE", "t", "a DynamoDB table name"),
        ("CERTWATCH_CHECK_QUEUE", "checks.fifo", "an SQS queue name"),
        ("CERTWATCH_CHECK_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/certwatch-dev-checks", "SQS queue URL"),
        ("CERTWATCH_TOPIC", "alerts/x", "an SNS topic name"),
        ("CERTWATCH_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:alerts", "an SNS topic ARN"),
        ("CERTWATCH_ARI_DIRECTORIES", "{bad", "not a JSON object"),
        ("CERTWATCH_ARI_DIRECTORIES", '["https://acme.example/directory"]', "expected a JSON object"),
        ("CERTWATCH_ARI_DIRECTORIES", '{"OU=Example": "https://acme.example/directory"}', "is not O=<organization>"),
        ("CERTWATCH_ARI_DIRECTORIES", '{"O=Example": 1}', "the directory of 'O=Example' is not an http(s) URL"),
        ("CERTWATCH_ARI_DIRECTORIES", '{"O=Example": "https://[::1/d"}', "is not an http(s) URL with a host"),
    ],
)
def test_a_value_certwatch_cannot_use_is_one_line_naming_the_variable_its_value_and_what_is_allowed(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env({name: value})

    message = str(raised.value)
    assert message.startswith(f"{name}={value!r} is not allowed: ")
    assert allowed in message
    assert "\n" not in message
    assert message.count(name) == 1
    assert isinstance(raised.value, ConfigurationError)  # the API maps it like any missing configuration
    example = re.search(r", for example (.+)$", message)
    assert example is not None, message
    assert Settings.from_env({name: example[1]})  # the example is a value certwatch takes


def test_a_secret_setting_is_named_but_its_value_is_not_shown() -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env({"CERTWATCH_SLACK_WEBHOOK_URL": "hooks.slack.com/services/T0/B0/secret"})

    assert "secret" not in str(raised.value)
    assert str(raised.value).startswith("CERTWATCH_SLACK_WEBHOOK_URL=<37 characters, not shown> is not allowed")


@pytest.mark.parametrize(
    ("url", "taken"),
    [
        ("https://hooks.slack.com/services/T0/B0/s3cret", True),
        ("http://127.0.0.1:9000/slack", True),
        ("http://[::1]:9000/slack", True),
        ("http://localhost:9000/slack", True),
        ("http://10.0.0.1/slack", False),
        ("http://hooks.slack.com/services/T0/B0/s3cret", False),
        ("https://user:s3cret@hooks.slack.com/services", False),
        ("ftp://127.0.0.1/slack", False),
    ],
)
def test_a_slack_url_is_https_or_plain_http_to_this_machine(url: str, taken: bool) -> None:
    name = "CERTWATCH_SLACK_WEBHOOK_URL"
    if taken:
        assert Settings.from_env({name: url}).slack_webhook_url == url
        return
    with pytest.raises(SettingError) as raised:
        Settings.from_env({name: url})
    assert "s3cret" not in str(raised.value)
    assert str(raised.value).endswith(", for example https://hooks.slack.com/services/T000/B000/XXXX")


def test_ari_directories_are_read_whole_so_the_checker_never_meets_a_bad_one() -> None:
    given = '{"O=Example CA": "https://acme.example.com/directory", "O=ZeroSSL": ""}'

    settings = Settings.from_env({"CERTWATCH_ARI_DIRECTORIES": given})

    assert settings.ari_directories == given
    table = directory_table(settings.ari_directories)  # what the checker reads
    assert table["O=Example CA"] == "https://acme.example.com/directory"
    assert "O=ZeroSSL" not in table


def test_the_operators_commands_refuse_a_bad_stage_variable_though_the_command_names_the_stage() -> None:
    assert operator_settings("local", {"CERTWATCH_STAGE": "prod"}).stage == "local"
    with pytest.raises(SettingError, match=r"^CERTWATCH_STAGE='my stage' is not allowed: "):
        operator_settings("local", {"CERTWATCH_STAGE": "my stage"})


def test_a_process_start_with_a_bad_setting_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        settings_or_exit({"CERTWATCH_CHECK_TIMEOUT": "abc"})

    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "certwatch cannot start: CERTWATCH_CHECK_TIMEOUT='abc' is not allowed: "
        "a number of seconds above 0, at most 60, for example 10\n"
    )


def test_each_default_is_the_fields_own() -> None:
    assert Settings.from_env({}) == Settings()
    for name in ("CERTWATCH_CHECK_TIMEOUT", "CERTWATCH_CRL_MAX_BYTES", "CERTWATCH_REPEAT_CRITICAL_HOURS"):
        assert Settings.from_env({name: ""}) == Settings()


def test_metrics_are_off_only_when_powertools_is_told_exactly_true() -> None:
    assert Settings.from_env({}).metrics
    assert not Settings.from_env({"POWERTOOLS_METRICS_DISABLED": "True"}).metrics
    assert Settings.from_env({"POWERTOOLS_METRICS_DISABLED": "1"}).metrics  # only exactly "true" turns them off


def test_the_operators_stage_and_local_port_are_read_here_too() -> None:
    assert named_stage({}) == "dev"
    assert named_stage({"CERTWATCH_STAGE": "prod"}) == "prod"
    assert local_aws_port({}) == 5000
    assert local_aws_port({"CERTWATCH_LOCAL_AWS_PORT": "5123"}) == 5123
    with pytest.raises(SettingError, match=r"^CERTWATCH_LOCAL_AWS_PORT='0' is not allowed: a whole number from 1"):
        local_aws_port({"CERTWATCH_LOCAL_AWS_PORT": "0"})
