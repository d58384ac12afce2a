"""Watched domains (``DOMAINS`` / ``<team>#<id>``) and the CT issuances of a team's names (``I#<TBS hash>``).

Every watched domain is in one partition: a team's are one Query on its prefix, and the sweep
reads them all with one Query (a deployment watches tens or hundreds of domains, never a
table's worth). A domain's record is kept whole, as JSON, like a silence. An issuance expires
(``expires_at``, the table's TTL) a day after its certificate does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table, condition_failed, translate
from chalicelib.domain.domains import Issuance, WatchedDomain
from chalicelib.errors import DuplicateDomainError, NotFoundError


class DomainItems(Table):
    """The WatchedDomains and Issuances ports (services/ports.py) on the one table."""

    def create_domain(self, domain: WatchedDomain) -> None:
        try:
            self._put_domain(domain, "attribute_not_exists(pk)")
        except ClientError as exc:
            if condition_failed(exc):
                raise DuplicateDomainError(domain.id) from exc
            raise translate(exc) from exc

    def get_domain(self, team: str, domain_id: str) -> WatchedDomain:
        item = self._get_item(codec.DOMAINS, f"{team}#{domain_id}")
        if item is None:
            raise NotFoundError(f"no watched domain {domain_id}")
        return codec.watched_domain(json.loads(item["record"]))

    def list_domains(self, team: str | None = None) -> list[WatchedDomain]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": codec.DOMAINS}},
        }
        if team is not None:
            request["KeyConditionExpression"] += " AND begins_with(sk, :team)"
            request["ExpressionAttributeValues"][":team"] = {"S": f"{team}#"}
        found = [codec.watched_domain(json.loads(item["record"])) for item in self._query(**request)]
        return sorted(found, key=lambda d: (d.team, d.domain))

    def save_domain(self, domain: WatchedDomain) -> None:
        try:
            self._put_domain(domain, "attribute_exists(pk)")
        except ClientError as exc:
            if condition_failed(exc):
                raise NotFoundError(f"no watched domain {domain.id}") from exc
            raise translate(exc) from exc

    def delete_domain(self, team: str, domain_id: str) -> None:
        try:
            self._send(
                self._client.delete_item,
                TableName=self._table,
                Key=codec.dump({"pk": codec.DOMAINS, "sk": f"{team}#{domain_id}"}),
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if condition_failed(exc):
                raise NotFoundError(f"no watched domain {domain_id}") from exc
            raise translate(exc) from exc

    def record_issuances(self, team: str, issuances: Sequence[Issuance]) -> list[Issuance]:
        new = []
        for issuance in issuances:
            item = {
                "pk": codec.TEAM + team,
                "sk": codec.ISSUANCE + issuance.tbs_sha256,
                "record": codec.compact_json(codec.issuance_record(issuance)),
                # The table's TTL removes it a day after it expires: nothing is judged by an expired one.
                "expires_at": int((issuance.not_after + timedelta(days=1)).timestamp()),
            }
            answer = self._call(
                self._client.put_item, TableName=self._table, Item=codec.dump(item), ReturnValues="ALL_OLD"
            )
            if not answer.get("Attributes"):
                new.append(issuance)
        return new

    def team_issuances(self, team: str) -> list[Issuance]:
        # TTL deletes within days, not at once: what it has not removed yet is read and judged expired.
        found = self._query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": codec.TEAM + team}, ":prefix": {"S": codec.ISSUANCE}},
        )
        return [codec.issuance(json.loads(item["record"])) for item in found]

    def _put_domain(self, domain: WatchedDomain, condition: str) -> None:
        item = {
            "pk": codec.DOMAINS,
            "sk": f"{domain.team}#{domain.id}",
            "record": codec.compact_json(codec.watched_domain_record(domain)),
        }
        self._send(self._client.put_item, TableName=self._table, Item=codec.dump(item), ConditionExpression=condition)
