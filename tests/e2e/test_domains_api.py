"""POST/GET/DELETE /domains through ``chalice.test.Client``: every answer checked against the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from chalicelib.domain.domains import Issuance
from tests.support.api import Api, Stack, Stacks, client_transport


@pytest.fixture
def stack(stacks: Stacks) -> Stack:
    return stacks.build()


@pytest.fixture
def api(client: Client, stack: Stack) -> Api:
    return Api(client_transport(client), stack.token("alpha"))


def test_a_domain_is_watched_listed_read_and_removed(api: Api) -> None:
    made = api.post(
        "/domains", {"domain": "Example.COM", "allowed_issuers": ["R11"], "owner": "web-oncall", "alert_days": [7, 60]}
    )

    assert made.status == 201
    domain = made.body
    assert made.headers.get("Location") == f"/domains/{domain['id']}"
    assert (domain["domain"], domain["include_subdomains"], domain["allowed_issuers"]) == ("example.com", True, ["R11"])
    assert (domain["team"], domain["owner"], domain["cursor"], domain["findings"]) == ("alpha", "web-oncall", None, [])
    assert domain["alert_days"] == [60, 7]
    assert api.get("/domains").body["items"] == [domain]
    assert api.get(f"/domains/{domain['id']}").body == domain

    assert api.delete(f"/domains/{domain['id']}").status == 204
    assert api.get(f"/domains/{domain['id']}").error["code"] == "not_found"
    assert api.get("/domains").body["items"] == []


def test_watching_a_domain_twice_is_a_conflict_naming_the_first(api: Api) -> None:
    first = api.post("/domains", {"domain": "example.com"}).body

    again = api.post("/domains", {"domain": "EXAMPLE.com.", "include_subdomains": False})

    assert again.status == 409
    assert again.error["code"] == "duplicate_domain"
    assert again.error["existing_id"] == first["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"domain": "com"}, "domain"),
        ({"domain": "*.example.com"}, "domain"),
        ({"domain": "192.0.2.1"}, "domain"),
        ({"domain": "exa mple.com"}, "domain"),
        ({"domain": 7}, "domain"),
        ({}, "domain"),
        ({"domain": "example.com", "allowed_keys": ["not-a-hash"]}, "allowed_keys"),
        ({"domain": "example.com", "allowed_issuers": "R11"}, "allowed_issuers"),
        ({"domain": "example.com", "include_subdomains": "yes"}, "include_subdomains"),
        ({"domain": "example.com", "target": "x"}, "target"),
        ({"domain": "example.com", "alert_days": [0]}, "alert_days"),
        ({"domain": "example.com", "alert_days": []}, "alert_days"),
    ],
)
def test_a_domain_that_cannot_be_watched_is_400_naming_the_field(api: Api, body: object, field: str) -> None:
    refused = api.post("/domains", body)

    assert refused.status == 400
    assert refused.error["field"] == field


def test_another_teams_domain_is_not_found(client: Client, api: Api, stack: Stack) -> None:
    domain = api.post("/domains", {"domain": "example.com"}).body
    other = Api(client_transport(client), stack.token("beta"))

    assert other.get(f"/domains/{domain['id']}").status == 404
    assert other.delete(f"/domains/{domain['id']}").status == 404
    assert other.get("/domains").body["items"] == []


def test_names_seen_in_ct_that_no_target_checks_are_listed_as_unwatched(api: Api, stack: Stack) -> None:
    moment = datetime.now(UTC)
    api.register("https://www.example.com")
    domain = api.post("/domains", {"domain": "example.com"}).body
    names = ("www.example.com", "legacy.example.com", "*.cdn.example.com", "other.test")
    stack.store.record_issuances(
        "alpha",
        [
            Issuance(
                id="1",
                tbs_sha256="ab" * 32,
                dns_names=names,
                pubkey_sha256="cd" * 32,
                issuer="CN=R11",
                not_before=moment - timedelta(days=1),
                not_after=moment + timedelta(days=60),
            )
        ],
    )

    listed = api.get(f"/domains/{domain['id']}").body

    assert listed["unwatched"] == ["*.cdn.example.com", "legacy.example.com"]


def test_the_inventory_shows_what_ct_saw_for_names_nobody_registered(api: Api, stack: Stack) -> None:
    moment = datetime.now(UTC)
    api.register("https://www.example.com")
    api.post("/domains", {"domain": "example.com"})
    stack.store.record_issuances(
        "alpha",
        [
            Issuance(
                id="1",
                tbs_sha256="ab" * 32,
                dns_names=("www.example.com", "legacy.example.com"),
                pubkey_sha256="cd" * 32,
                issuer="C=US, O=Let's Encrypt, CN=R11",
                not_before=moment - timedelta(days=1),
                not_after=moment + timedelta(days=60),
                cert_sha256="ef" * 32,
            ),
            Issuance(
                id="2",
                tbs_sha256="12" * 32,
                dns_names=("www.example.com",),  # every name of it is checked: not a row of its own
                pubkey_sha256="cd" * 32,
                issuer="C=US, O=Let's Encrypt, CN=R11",
                not_before=moment - timedelta(days=1),
                not_after=moment + timedelta(days=60),
            ),
        ],
    )

    rows = api.get("/certificates?source=domain").body["items"]

    assert [(r["id"], r["kind"], r["source"], r["sans"], r["status"]) for r in rows] == [
        ("ef" * 32, "unwatched", "domain", ["legacy.example.com"], "pending")
    ]
    everything = api.get("/certificates").body["items"]
    assert {r["kind"] for r in everything} >= {"unwatched"}


def test_many_domains_are_watched_at_once_one_outcome_per_row(api: Api) -> None:
    first = api.post("/domains", {"domain": "example.com"}).body

    done = api.post(
        "/domains/bulk",
        [{"domain": "shop.example"}, {"domain": "example.com"}, {"domain": "com"}, {"domain": "b.example", "x": 1}],
    )

    assert done.status == 200
    body = done.body
    assert [(r["row"], r["outcome"]) for r in body["results"]] == [
        (1, "created"),
        (2, "duplicate"),
        (3, "rejected"),
        (4, "rejected"),
    ]
    assert (body["created"], body["duplicate"], body["rejected"], body["retry"]) == (1, 1, 2, 0)
    assert body["results"][0]["domain"]["domain"] == "shop.example"
    assert body["results"][1]["existing_id"] == first["id"]
    assert "top-level domain" in body["results"][2]["error"]["message"]
    assert {d["domain"] for d in api.get("/domains").body["items"]} == {"example.com", "shop.example"}
    assert api.post("/domains/bulk", {"domain": "x.example"}).status == 400
    assert api.post("/domains/bulk", []).status == 400
