"""The watched domains' store contract (services/ports.py WatchedDomains, Issuances): the fake and DynamoDB."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.domain.domains import Issuance, WatchedDomain
from chalicelib.errors import DuplicateDomainError, NotFoundError
from chalicelib.services.domains import domain_id
from chalicelib.services.ports import Store
from tests.support.aws import AwsStack
from tests.support.fakes import InMemoryStore


def watched(team: str, name: str, now: datetime) -> WatchedDomain:
    return WatchedDomain(id=domain_id(team, name), team=team, domain=name, created_at=now, next_sweep_at=now)


def issuance(tbs: str, now: datetime, *, precert: bool = False) -> Issuance:
    return Issuance(
        id=tbs[:4],
        tbs_sha256=tbs,
        dns_names=("www.example.com",),
        pubkey_sha256="cd" * 32,
        issuer="C=US, O=Example, CN=R11",
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=60),
        serial="5eed",
        precert=precert,
    )


class DomainStoreContract:
    @pytest.fixture
    def team(self) -> str:
        return f"team-{uuid.uuid4().hex[:12]}"

    def test_a_domain_reads_back_as_kept_and_twice_is_a_conflict(self, store: Store, team: str, now: datetime) -> None:
        domain = replace(watched(team, "example.com", now), allowed_issuers=("R11", "E6"), owner="web")
        store.create_domain(domain)

        assert store.get_domain(team, domain.id) == domain
        with pytest.raises(DuplicateDomainError) as raised:
            store.create_domain(domain)
        assert raised.value.existing_id == domain.id

    def test_a_teams_domains_are_its_own_and_the_sweep_reads_every_teams(
        self, store: Store, team: str, now: datetime
    ) -> None:
        other = f"{team}-other"
        for name in ("b.example", "a.example"):
            store.create_domain(watched(team, name, now))
        store.create_domain(watched(other, "c.example", now))

        assert [d.domain for d in store.list_domains(team)] == ["a.example", "b.example"]
        assert {(d.team, d.domain) for d in store.list_domains()} >= {(team, "a.example"), (other, "c.example")}
        with pytest.raises(NotFoundError):
            store.get_domain(other, domain_id(team, "a.example"))

    def test_what_a_sweep_learnt_is_kept_and_a_removed_domain_is_not_brought_back(
        self, store: Store, team: str, now: datetime
    ) -> None:
        domain = watched(team, "example.com", now)
        store.create_domain(domain)
        swept = replace(
            domain, cursor="4000007", baselined=True, swept_at=now, registration_expires_at=now + timedelta(days=20)
        )

        store.save_domain(swept)
        assert store.get_domain(team, domain.id) == swept

        store.delete_domain(team, domain.id)
        with pytest.raises(NotFoundError):
            store.save_domain(swept)
        with pytest.raises(NotFoundError):
            store.delete_domain(team, domain.id)
        assert store.list_domains(team) == []

    def test_an_issuance_is_new_once_per_team(self, store: Store, team: str, now: datetime) -> None:
        first, second = issuance("ab" * 32, now, precert=True), issuance("ef" * 32, now)

        assert store.record_issuances(team, [first, second]) == [first, second]
        final = replace(first, precert=False, cert_sha256="01" * 32)
        assert store.record_issuances(team, [final]) == []  # the certificate of a precertificate seen before
        assert store.record_issuances(f"{team}-other", [first]) == [first]

        kept = sorted(store.team_issuances(team), key=lambda i: i.tbs_sha256)
        assert kept == [final, second]


class TestInMemoryDomainStore(DomainStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryStore:
        return InMemoryStore()


class TestDynamoDomainStore(DomainStoreContract):
    @pytest.fixture
    def store(self, aws_stack: AwsStack) -> DynamoStore:
        return DynamoStore(aws_stack.dynamodb, aws_stack.table)
