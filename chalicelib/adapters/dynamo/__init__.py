"""The DynamoDB adapter: targets, results, alerts, the outbox, history, deliveries, inventory, tokens: one table.

The table is declared in infra/template.yaml. Keys (``pk`` / ``sk``), one module per kind of record:

================  ========================  ===========================================  =============
``TEAM#<team>``   ``T#<target id>``         a target, with its latest result summary     targets.py
``TEAM#<team>``   ``R#<target id>``         the latest full check report (JSON)          targets.py
``TEAM#<team>``   ``U#<endpoint key>``      uniqueness of host/port/protocol/SNI         targets.py
``TEAM#<team>``   ``A#<target id>``         what has been announced for the target       alerts.py
``TEAM#<team>``   ``E#<event key>``         a notification (the outbox; once per key)    outbox.py
``TEAM#<team>``   ``H#<id>#<fingerprint>``  a certificate the target served, first seen  history.py
``TEAM#<team>``   ``C#<fingerprint>``       the endpoints that serve a certificate now   holders.py
``TEAM#<team>``   ``S#team``                the team's settings                          holders.py
``TEAM#<team>``   ``Q#<silence id>``        a silence (until its end, or ended)          silences.py
``TEAM#<team>``   ``M#<window id>``         a maintenance window                         silences.py
``WEBHOOK#<id>``  ``D#<event key>``         a webhook delivery: claimed, then delivered  deliveries.py
``INVENTORY``     ``<ARN>``                 a certificate held in ACM/IAM, as assessed   inventory.py
``TOKEN``         ``<token id>``            an API token's hash and team                 tokens.py
``SCHEDULE``      ``SWEPT``                 the sweeps' claimed windows and rechecks     targets.py
``DOMAINS``       ``<team>#<domain id>``    a watched domain, with what its sweeps learnt domains.py
``TEAM#<team>``   ``I#<TBS hash>``          a CT issuance of a watched domain's names    domains.py
================  ========================  ===========================================  =============

reports.py reads a team's latest reports in one Query (a scrape of /metrics). codec.py turns
domain objects into items and back; table.py makes the requests (one Query loop
for every listing, DynamoDB's refusals translated into certwatch's errors).

Listing a team's targets is one Query on its partition (ids sort by creation). The sparse
global index ``slots`` (``slot_shard``, ``slot``) holds unpaused targets only, by the slot of
their interval their checks fall on, spread over a few shards, so the sweep finds due targets
with a handful of Queries at any size, and a check landing moves no key of it.
Writes are partial updates or transactions with conditions, so an API edit and a check
landing at once never lose each other's fields.
"""

from __future__ import annotations

from chalicelib.adapters.dynamo.alerts import AlertItems
from chalicelib.adapters.dynamo.codec import DUE_SHARDS
from chalicelib.adapters.dynamo.domains import DomainItems
from chalicelib.adapters.dynamo.history import HistoryItems
from chalicelib.adapters.dynamo.holders import HolderItems
from chalicelib.adapters.dynamo.inventory import InventoryItems
from chalicelib.adapters.dynamo.outbox import OUTBOX_INDEX, OutboxItems
from chalicelib.adapters.dynamo.reports import ReportItems
from chalicelib.adapters.dynamo.silences import SilenceItems
from chalicelib.adapters.dynamo.targets import DUE_INDEX, SLOT_INDEX, TargetItems
from chalicelib.adapters.dynamo.tokens import TokenItems

__all__ = ["DUE_INDEX", "DUE_SHARDS", "OUTBOX_INDEX", "SLOT_INDEX", "DynamoStore"]


class DynamoStore(
    TargetItems,
    ReportItems,
    AlertItems,
    OutboxItems,
    HistoryItems,
    HolderItems,
    SilenceItems,
    InventoryItems,
    TokenItems,
    DomainItems,
):
    """Every port of the store (services/ports.py: Store) on one DynamoDB table; takes a boto3 DynamoDB client
    and the table's name."""
