"""The composition root's overrides: a keyword replaces the piece of its name, and a misspelt one fails."""

from __future__ import annotations

import pytest

from chalicelib.deps import Container
from chalicelib.settings import Settings
from tests.support.fakes import InMemoryStore, RecordingPublisher


def test_a_keyword_replaces_the_piece_of_its_name() -> None:
    store, publisher = InMemoryStore(), RecordingPublisher()

    url = "https://hooks.slack.test/services/T0/B0/x"

    container = Container(Settings.for_stage("dev"), store=store, publisher=publisher, slack_webhook_url=lambda: url)

    assert container.store is store
    assert container.publisher is publisher
    assert container.slack_webhook_url() == url  # a method is replaced too


def test_a_misspelt_piece_is_a_type_error_naming_it_and_the_piece_it_resembles() -> None:
    with pytest.raises(TypeError, match=r"no piece named 'publsher' \(did you mean 'publisher'\?\)"):
        Container(Settings.for_stage("dev"), publsher=RecordingPublisher())


def test_every_misspelt_piece_is_named_at_once() -> None:
    with pytest.raises(TypeError) as raised:
        Container(Settings.for_stage("dev"), store=InMemoryStore(), quue=None, zzz=None)

    assert "'quue' (did you mean 'queue'?)" in str(raised.value)
    assert "'zzz'" in str(raised.value)
    assert "'store'" not in str(raised.value)
