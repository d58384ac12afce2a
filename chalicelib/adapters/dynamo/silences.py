"""A team's silences (``Q#<id>``) and maintenance windows (``M#<id>``), each kept whole as JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.silences import MaintenanceWindow, Silence
from chalicelib.errors import NotFoundError


class SilenceItems(Table):
    """Silences and windows: a few per team, read together when an event is about to be told."""

    def put_silence(self, silence: Silence) -> None:
        self._put(silence.team, codec.SILENCE + silence.id, codec.silence_record(silence))

    def silences(self, team: str) -> list[Silence]:
        return [codec.silence(json.loads(i["record"])) for i in self._prefixed(team, codec.SILENCE)]

    def end_silence(self, team: str, silence_id: str, now: datetime) -> Silence:
        item = self._get_item(codec.TEAM + team, codec.SILENCE + silence_id)
        if item is None:
            raise NotFoundError(f"no silence {silence_id}")
        ended = replace(codec.silence(json.loads(item["record"])), ended_at=now)
        self.put_silence(ended)
        return ended

    def put_window(self, window: MaintenanceWindow) -> None:
        self._put(window.team, codec.WINDOW + window.id, codec.window_record(window))

    def windows(self, team: str) -> list[MaintenanceWindow]:
        return [codec.window(json.loads(i["record"])) for i in self._prefixed(team, codec.WINDOW)]

    def end_window(self, team: str, window_id: str, now: datetime) -> MaintenanceWindow:
        item = self._get_item(codec.TEAM + team, codec.WINDOW + window_id)
        if item is None:
            raise NotFoundError(f"no maintenance window {window_id}")
        ended = replace(codec.window(json.loads(item["record"])), ended_at=now)
        self.put_window(ended)
        return ended

    def _put(self, team: str, sort_key: str, record: dict[str, Any]) -> None:
        item = {"pk": codec.TEAM + team, "sk": sort_key, "record": codec.compact_json(record)}
        self._call(self._client.put_item, TableName=self._table, Item=codec.dump(item))

    def _prefixed(self, team: str, prefix: str) -> list[dict[str, Any]]:
        return list(
            self._query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": {"S": codec.TEAM + team}, ":prefix": {"S": prefix}},
            )
        )
