from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from chalicelib.domain.truststore import (
    TrustStore,
    load_pem_file,
    load_trust_store,
    parse_pem_bundle,
    read_pem_bundle,
)
from chalicelib.errors import CertwatchError, TrustStoreError
from lab.certs import make_ca
from tests.support.pki import UNREADABLE_ANCHORS, Pki, unreadable_anchor


def test_a_store_counts_each_anchor_once(pki: Pki) -> None:
    store = TrustStore([pki.root.cert, pki.intermediate.cert, pki.root.cert])
    assert len(store) == 2
    assert store.issuers_named(pki.root.cert.subject) == [pki.root.cert]
    assert len(TrustStore([])) == 0


def test_contains_asks_by_sha256_fingerprint(pki: Pki) -> None:
    store = TrustStore([pki.root.cert])
    assert store.contains(pki.root.cert.fingerprint(hashes.SHA256()))
    assert store.contains(bytes.fromhex(pki.root.fingerprint))
    assert not store.contains(pki.intermediate.cert.fingerprint(hashes.SHA256()))
    assert not store.contains(pki.root.cert.fingerprint(hashes.SHA1()))


def test_issuers_named_finds_every_anchor_with_that_subject(pki: Pki) -> None:
    twin = make_ca("certwatch Test Root")  # same name, another key
    store = TrustStore([pki.root.cert, twin.cert, pki.intermediate.cert])
    found = store.issuers_named(pki.intermediate.cert.issuer)
    assert sorted(c.fingerprint(hashes.SHA256()) for c in found) == sorted(
        [pki.root.cert.fingerprint(hashes.SHA256()), twin.cert.fingerprint(hashes.SHA256())]
    )
    assert store.issuers_named(pki.root.cert.issuer) == found


def test_issuers_named_is_empty_for_an_unknown_name(pki: Pki) -> None:
    store = TrustStore([pki.root.cert])
    assert store.issuers_named(pki.intermediate.cert.subject) == []


def test_with_anchors_returns_a_new_store_and_leaves_the_old_one_alone(pki: Pki) -> None:
    internal = make_ca("Internal CA")
    base = TrustStore([pki.root.cert])
    extended = base.with_anchors([internal.cert, pki.root.cert])
    assert extended is not base
    assert len(extended) == 2
    assert extended.contains(bytes.fromhex(internal.fingerprint))
    assert extended.contains(bytes.fromhex(pki.root.fingerprint))
    assert extended.issuers_named(internal.cert.subject) == [internal.cert]
    assert extended.issuers_named(pki.root.cert.subject) == [pki.root.cert]
    assert len(base) == 1
    assert not base.contains(bytes.fromhex(internal.fingerprint))


def test_parses_every_certificate_of_a_bundle(pki: Pki) -> None:
    bundle = b"# our roots\n" + pki.root.pem + b"\n" + pki.intermediate.pem
    certs = parse_pem_bundle(bundle)
    assert [c.subject.rfc4514_string() for c in certs] == [
        "CN=certwatch Test Root",
        "CN=certwatch Test Intermediate",
    ]


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        b"\n\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_what_is_no_bundle_is_a_trust_store_error_naming_its_source(pem: bytes) -> None:
    with pytest.raises(TrustStoreError, match=r"^team-ca\.pem: "):
        parse_pem_bundle(pem, source="team-ca.pem")


@pytest.mark.parametrize("kind", sorted(UNREADABLE_ANCHORS))
def test_a_certificate_that_loads_but_does_not_read_whole_is_refused_naming_its_place_and_part(
    pki: Pki, kind: str
) -> None:
    bundle = pki.root.pem + unreadable_anchor(kind) + pki.intermediate.pem
    with pytest.raises(TrustStoreError) as caught:
        parse_pem_bundle(bundle, source="ca_bundle")
    message = str(caught.value)
    assert message.startswith("ca_bundle: certificate 2 of 3 cannot be used: "), message
    assert UNREADABLE_ANCHORS[kind] in message
    assert "ParseError" not in message, "cryptography's internals stay out"
    assert "{" not in message


@pytest.mark.parametrize("kind", sorted(UNREADABLE_ANCHORS))
def test_a_store_built_from_what_reads_whole_can_be_judged_against(pki: Pki, kind: str) -> None:
    certs, problems = read_pem_bundle(pki.root.pem + unreadable_anchor(kind), source="ca_bundle")
    assert [c.fingerprint(hashes.SHA256()).hex() for c in certs] == [pki.root.fingerprint]
    assert len(problems) == 1
    assert problems[0].startswith("ca_bundle: certificate 2 of 2 cannot be used: ")
    store = TrustStore([], certs)  # reads each anchor's subject: it would raise on the broken one
    assert store.issuers_named(pki.root.cert.subject) == certs


def test_a_lone_broken_certificate_is_named_without_a_count() -> None:
    with pytest.raises(TrustStoreError, match=r"^team-ca\.pem: its certificate cannot be used: its subject"):
        parse_pem_bundle(unreadable_anchor("subject-not-utf8"), source="team-ca.pem")


def test_trust_store_errors_are_certwatch_errors() -> None:
    with pytest.raises(CertwatchError):
        parse_pem_bundle(b"garbage")


def test_loads_a_pem_file(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(pki.root.pem + pki.intermediate.pem)
    assert [c.fingerprint(hashes.SHA256()) for c in load_pem_file(path)] == [
        bytes.fromhex(pki.root.fingerprint),
        bytes.fromhex(pki.intermediate.fingerprint),
    ]
    assert len(load_pem_file(str(path))) == 2


def test_a_missing_file_is_a_trust_store_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "ca.pem"
    with pytest.raises(TrustStoreError, match=re.escape(str(path))) as caught:
        load_pem_file(path)
    assert "cannot read CA file" in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)


def test_a_directory_is_a_trust_store_error(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match=re.escape(str(tmp_path))):
        load_pem_file(tmp_path)


def test_a_file_without_certificates_is_a_trust_store_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "empty.pem"
    path.write_bytes(b"")
    with pytest.raises(TrustStoreError, match=re.escape(str(path))):
        load_pem_file(path)


def test_the_public_roots_are_many() -> None:
    store = load_trust_store()
    assert len(store) > 100


def test_ca_files_are_added_to_the_public_roots(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(pki.root.pem)
    store = load_trust_store([path])
    assert store.contains(bytes.fromhex(pki.root.fingerprint))
    assert len(store) > 100


def test_without_public_roots_only_the_ca_files_count(pki: Pki, tmp_path: Path) -> None:
    first, second = tmp_path / "a.pem", tmp_path / "b.pem"
    first.write_bytes(pki.root.pem)
    second.write_bytes(pki.root.pem + pki.intermediate.pem)
    store = load_trust_store([first, str(second)], public_roots=False)
    assert len(store) == 2
    assert store.contains(bytes.fromhex(pki.intermediate.fingerprint))
    assert len(load_trust_store(public_roots=False)) == 0


def test_a_missing_ca_file_fails_the_whole_load(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match=r"missing\.pem"):
        load_trust_store([tmp_path / "missing.pem"], public_roots=False)
