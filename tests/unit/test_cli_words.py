"""The words the operator's commands take are the domain's own (certwatch/admin_arguments.py spells them out)."""

from __future__ import annotations

import enum

import pytest

from certwatch import admin_arguments
from chalicelib.domain.alerts import EventType
from chalicelib.domain.inventory import Source
from chalicelib.domain.models import Severity, Status
from chalicelib.domain.webhooks import Format


@pytest.mark.parametrize(
    ("words", "values"),
    [
        (admin_arguments.SOURCES, Source),
        (admin_arguments.STATUSES, Status),
        (admin_arguments.FORMATS, Format),
        (admin_arguments.EVENT_TYPES, EventType),
    ],
)
def test_each_list_is_every_value_of_its_enum_in_order(words: list[str], values: type[enum.Enum]) -> None:
    assert words == [v.value for v in values]


def test_severities_are_every_severity_least_severe_first() -> None:
    assert admin_arguments.SEVERITIES == [s.value for s in Severity] == ["info", "warning", "critical"]
