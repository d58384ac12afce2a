"""Certificates held in ACM/IAM, as last assessed: one item each, keyed by ARN."""

from __future__ import annotations

import json

from chalicelib.adapters.dynamo import codec
from chalicelib.adapters.dynamo.table import Table
from chalicelib.domain.inventory import Assessment, assessment_from_dict, assessment_to_dict


class InventoryItems(Table):
    """Assessments of certificates held in ACM/IAM (partition ``INVENTORY``, sort key the ARN)."""

    def put_managed(self, assessment: Assessment) -> None:
        item = {
            "pk": codec.INVENTORY,
            "sk": assessment.certificate.arn,
            "assessment": codec.compact_json(assessment_to_dict(assessment)),
        }
        self._call(self._client.put_item, TableName=self._table, Item=codec.dump(item))

    def list_managed(self) -> list[Assessment]:
        found = self._query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": codec.INVENTORY}},
        )
        return [assessment_from_dict(json.loads(item["assessment"])) for item in found]

    def delete_managed(self, arn: str) -> None:
        self._call(self._client.delete_item, TableName=self._table, Key=codec.dump({"pk": codec.INVENTORY, "sk": arn}))
