"""Who serves each certificate of a team (``C#<fingerprint>``), and the team's settings (``S#team``)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table, condition_failed, translate
from chalicelib.domain.alerts import Holder
from chalicelib.domain.teams import TeamSettings


class HolderItems(Table):
    """A certificate's holders: a string set changed with ADD and DELETE, so concurrent checks never lose one."""

    def certificate_holders(self, team: str, fingerprint: str) -> frozenset[Holder]:
        item = self._get_item(codec.TEAM + team, codec.CERTIFICATE + fingerprint)
        return frozenset() if item is None else codec.holders(item.get("holders"))

    def join_certificate(self, team: str, fingerprint: str, holder: Holder) -> None:
        self._call(
            self._client.update_item,
            TableName=self._table,
            Key=codec.dump({"pk": codec.TEAM + team, "sk": codec.CERTIFICATE + fingerprint}),
            UpdateExpression="ADD holders :h",
            ExpressionAttributeValues={":h": {"SS": [holder.encode()]}},
        )

    def leave_certificate(
        self, team: str, fingerprint: str, holder: Holder
    ) -> tuple[frozenset[Holder], frozenset[Holder]]:
        key = codec.dump({"pk": codec.TEAM + team, "sk": codec.CERTIFICATE + fingerprint})
        answer = self._call(
            self._client.update_item,
            TableName=self._table,
            Key=key,
            UpdateExpression="DELETE holders :h ADD moved :h",
            ExpressionAttributeValues={":h": {"SS": [holder.encode()]}},
            ReturnValues="ALL_NEW",
        )
        item = codec.load(answer.get("Attributes", {}))
        remaining, moved = codec.holders(item.get("holders")), codec.holders(item.get("moved"))
        if not remaining:  # served nowhere now: forgotten, unless a check added a holder meanwhile
            try:
                self._send(
                    self._client.delete_item,
                    TableName=self._table,
                    Key=key,
                    ConditionExpression="attribute_not_exists(holders)",
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise translate(exc) from exc
        return remaining, moved

    def team_settings(self, team: str) -> TeamSettings:
        item = self._get_item(codec.TEAM + team, codec.SETTINGS)
        return TeamSettings() if item is None else codec.team_settings(item)

    def put_team_settings(self, team: str, settings: TeamSettings) -> None:
        item = {"pk": codec.TEAM + team, "sk": codec.SETTINGS} | codec.team_settings_item(settings)
        self._call(self._client.put_item, TableName=self._table, Item=codec.dump(item))
