"""The TLS adapter on pyOpenSSL: the served chain, the key exchange group each kind of server
negotiates (behind STARTTLS too), and the legacy protocol probe, against real loopback servers.

Three server stacks: pyOpenSSL on the OpenSSL cryptography bundles (hybrid post-quantum groups),
Python's ssl on the platform's OpenSSL and Debian's ``openssl s_server`` (classical groups only).
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.backends.openssl import backend
from OpenSSL import SSL

from chalicelib.checks.tlsprobe import LegacyProbe, TlsProbe, client_context
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import FailureReason
from chalicelib.errors import ProbeError
from lab.certs import Issued, make_cert
from lab.servers import BundledTlsServer, GarbageServer, SilentServer, SServer, TlsServer
from tests.functional.helpers import Servers
from tests.support.net import closed_port
from tests.support.pki import Pki

NAME = "chain.tlsprobe.test"
X25519MLKEM768 = 0x11EC
X25519 = 0x001D
TLS1_0 = 0x0301


@pytest.fixture(scope="module")
def leaf(pki: Pki) -> Issued:
    return make_cert(NAME, sans=[NAME, "127.0.0.1"], issuer=pki.intermediate)


@pytest.fixture(scope="module")
def chained(leaf: Issued, pki: Pki, servers: Servers) -> tuple[TlsServer, list[bytes]]:
    """A server sending leaf and intermediate, and the DER it sends."""
    server = servers.start(TlsServer([leaf, pki.intermediate]))
    return server, [leaf.der, pki.intermediate.der]


@pytest.fixture(scope="module")
def bundled(leaf: Issued, pki: Pki, servers: Servers) -> BundledTlsServer:
    return servers.start(BundledTlsServer([leaf, pki.intermediate]))


@pytest.fixture(scope="module")
def s_server(leaf: Issued, pki: Pki) -> Iterator[SServer]:
    """Debian's openssl s_server (OpenSSL 3.0) with its default settings."""
    need_openssl()
    with SServer([leaf, pki.intermediate]) as server:
        yield server


def need_openssl() -> None:
    """The s_server tests fail (never skip) without Debian's openssl command."""
    if shutil.which("openssl") is None:
        pytest.fail("this test runs Debian's openssl s_server: apt-get install -y openssl (.ci/run installs it)")


def _handshake(target: str, *, timeout: float = 5) -> tuple[str | None, tuple[bytes, ...], str | None]:
    shaken = TlsProbe().handshake(parse_target(target, sni=NAME), "127.0.0.1", timeout=timeout)
    return shaken.group, shaken.served, shaken.tls_version


def test_the_served_chain_is_read_leaf_first(chained: tuple[TlsServer, list[bytes]]) -> None:
    server, sent = chained

    handshake = TlsProbe().handshake(parse_target(f"tls://{NAME}:{server.port}"), "127.0.0.1", timeout=5)

    assert list(handshake.served) == sent


def test_the_loop_reads_what_a_handshake_of_its_own_reads(chained: tuple[TlsServer, list[bytes]]) -> None:
    server, sent = chained
    endpoint = parse_target(f"tls://{NAME}:{server.port}")
    probe = TlsProbe()
    try:
        looped = probe.begin(endpoint, "127.0.0.1", timeout=5).result(timeout=10)
    finally:
        probe.close()

    assert list(looped.served) == sent
    assert looped == TlsProbe().handshake(endpoint, "127.0.0.1", timeout=5)


class HoldingServer(SilentServer):
    """Reads what a client sends and never answers, counting the connections it holds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.held = self.most = 0
        self._count = threading.Lock()

    def handle(self, conn: socket.socket) -> None:
        with self._count:
            self.held += 1
            self.most = max(self.most, self.held)
        try:
            conn.settimeout(10)
            while conn.recv(4096):  # until the client hangs up
                pass
        except OSError:
            pass
        finally:
            with self._count:
                self.held -= 1


def test_the_loop_holds_at_most_its_in_flight_and_times_each_from_its_turn(servers: Servers) -> None:
    silent = servers.start(HoldingServer())
    probe = TlsProbe(in_flight=2)
    began = time.monotonic()
    try:
        shaking = [probe.begin(parse_target(silent.target()), "127.0.0.1", timeout=0.4) for _ in range(6)]
        failures = [future.exception(timeout=10) for future in shaking]
    finally:
        probe.close()

    assert all(isinstance(failure, ProbeError) for failure in failures)
    assert {(f.reason, f.message) for f in failures if isinstance(f, ProbeError)} == {
        (FailureReason.TIMEOUT, "no answer within 0.4s (TLS handshake)")
    }
    assert silent.most == 2, "two in flight, the others waiting their turn"
    assert time.monotonic() - began >= 3 * 0.4, "each timed from its turn: three turns of two"


def test_the_loop_names_each_failure_as_a_handshake_of_its_own_would(servers: Servers) -> None:
    garbage = servers.start(GarbageServer())
    probe = TlsProbe()
    with closed_port() as port:
        cases = [parse_target(f"tls://127.0.0.1:{port}"), parse_target(garbage.target())]
        try:
            looped = [probe.begin(endpoint, "127.0.0.1", timeout=2).exception(timeout=10) for endpoint in cases]
        finally:
            probe.close()
        own = []
        for endpoint in cases:
            with pytest.raises(ProbeError) as raised:
                TlsProbe().handshake(endpoint, "127.0.0.1", timeout=2)
            own.append(raised.value)
    assert [(e.reason, str(e)) for e in looped if isinstance(e, ProbeError)] == [(e.reason, str(e)) for e in own]
    assert [e.reason for e in own] == [FailureReason.REFUSED, FailureReason.PROTOCOL]


def test_a_starttls_handshake_is_never_handed_to_the_loop() -> None:
    with pytest.raises(ValueError, match="speaks before TLS"):
        TlsProbe().begin(parse_target("smtp://mail.tlsprobe.test:25"), "127.0.0.1", timeout=1)


def test_closing_the_probe_stops_its_loop(chained: tuple[TlsServer, list[bytes]]) -> None:
    server, _ = chained
    probe = TlsProbe()
    probe.begin(parse_target(f"tls://{NAME}:{server.port}"), "127.0.0.1", timeout=5).result(timeout=10)
    before = {t for t in threading.enumerate() if t.name == "certwatch-handshakes"}

    probe.close()
    probe.close()  # twice is once

    after = {t for t in threading.enumerate() if t.name == "certwatch-handshakes"}
    assert len(before - after) == 1, "the probe's loop thread has stopped"
    again = probe.begin(parse_target(f"tls://{NAME}:{server.port}"), "127.0.0.1", timeout=5)  # a new loop
    try:
        assert again.result(timeout=10).served
    finally:
        probe.close()


def test_a_handshake_its_caller_cancelled_stops_nothing_else(
    chained: tuple[TlsServer, list[bytes]], servers: Servers
) -> None:
    server, sent = chained
    silent = servers.start(SilentServer())
    probe = TlsProbe(in_flight=1)
    try:
        cancelled = probe.begin(parse_target(silent.target()), "127.0.0.1", timeout=0.3)
        assert cancelled.cancel()
        after = probe.begin(parse_target(f"tls://{NAME}:{server.port}"), "127.0.0.1", timeout=5)
        assert list(after.result(timeout=10).served) == sent
    finally:
        probe.close()


def test_a_forked_child_gets_a_loop_of_its_own(
    chained: tuple[TlsServer, list[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop's thread does not survive a fork: the child's first handshake starts its own loop."""
    server, sent = chained
    endpoint = parse_target(f"tls://{NAME}:{server.port}")
    probe = TlsProbe()
    parents = None
    try:
        probe.begin(endpoint, "127.0.0.1", timeout=5).result(timeout=10)
        parents = probe._loop  # the parent's, which a child would not have
        parent = os.getpid()
        monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # as a forked child sees it
        before = {t for t in threading.enumerate() if t.name == "certwatch-handshakes"}
        assert list(probe.begin(endpoint, "127.0.0.1", timeout=5).result(timeout=10).served) == sent
        after = {t for t in threading.enumerate() if t.name == "certwatch-handshakes"}
        assert len(after - before) == 1, "a new loop thread"
    finally:
        probe.close()
        monkeypatch.undo()
        if parents is not None:
            parents.close()


def test_the_probe_shakes_hands_on_the_openssl_cryptography_bundles() -> None:
    """The one OpenSSL that judges the chains also shakes hands, whatever Python's ssl is linked to."""
    assert SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode() == backend.openssl_version_text()


def test_the_client_hello_offers_x25519mlkem768_first_with_a_key_share() -> None:
    """OpenSSL's default groups, kept: a server able to negotiate the hybrid group gets it without a retry."""
    offered = _client_hello_extensions(client_context())

    groups = struct.unpack(f"!{len(offered[10]) // 2 - 1}H", offered[10][2:])
    assert groups[0] == X25519MLKEM768
    assert X25519 in groups
    assert {X25519MLKEM768, X25519} <= set(_key_shares(offered[51]))
    assert TLS1_0 in struct.unpack(f"!{offered[43][0] // 2}H", offered[43][1:])  # legacy servers are still read


def test_a_pyopenssl_server_on_the_bundled_openssl_negotiates_x25519mlkem768(
    bundled: BundledTlsServer, leaf: Issued, pki: Pki
) -> None:
    group, served, version = _handshake(bundled.target())

    assert group == "X25519MLKEM768"
    assert served == (leaf.der, pki.intermediate.der)
    assert version == "TLSv1.3"


def test_pythons_ssl_on_the_platforms_openssl_negotiates_a_classical_group(
    chained: tuple[TlsServer, list[bytes]],
) -> None:
    group, _, _ = _handshake(chained[0].target())

    assert group == "x25519"


def test_debians_openssl_s_server_negotiates_a_classical_group(s_server: SServer, leaf: Issued, pki: Pki) -> None:
    group, served, version = _handshake(s_server.target())

    assert group == "x25519"
    assert served == (leaf.der, pki.intermediate.der)
    assert version == "TLSv1.3"


@pytest.mark.parametrize(("stack", "group"), [(BundledTlsServer, "X25519MLKEM768"), (TlsServer, "x25519")])
def test_the_group_is_read_behind_smtp_starttls(
    stack: type[BundledTlsServer | TlsServer], group: str, leaf: Issued, pki: Pki, servers: Servers
) -> None:
    server = servers.start(stack([leaf, pki.intermediate], dialogue="smtp"))

    negotiated, served, _ = _handshake(server.target("smtp"))

    assert negotiated == group
    assert served == (leaf.der, pki.intermediate.der)


# --- the legacy protocol probe: a second handshake offering TLS 1.0 or TLS 1.1 alone ----------------


@pytest.fixture(scope="module")
def modern(leaf: Issued, pki: Pki, servers: Servers) -> BundledTlsServer:
    """Accepts TLS 1.2 and 1.3 only."""
    return servers.start(BundledTlsServer([leaf, pki.intermediate], versions=(SSL.TLS1_2_VERSION, 0)))


def _accepts(server: TlsServer | BundledTlsServer | SServer, version: str, scheme: str = "tls") -> bool:
    return LegacyProbe().accepts(parse_target(server.target(scheme), sni=NAME), "127.0.0.1", version)


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1.1"])
def test_a_server_still_accepting_a_legacy_version_is_found_out(
    version: str, chained: tuple[TlsServer, list[bytes]], leaf: Issued, pki: Pki, servers: Servers
) -> None:
    legacy = servers.start(BundledTlsServer([leaf, pki.intermediate], versions=(SSL.TLS1_VERSION, 0)))

    assert _accepts(legacy, version)  # the bundled OpenSSL still serves it, at security level 0
    assert _accepts(chained[0], version)  # and the platform's, through Python's ssl


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1.1"])
def test_a_server_refusing_legacy_versions_is_said_to_refuse_them(
    version: str, modern: BundledTlsServer, s_server: SServer
) -> None:
    assert not _accepts(modern, version)
    assert not _accepts(s_server, version)  # Debian's default: TLS 1.2 at least
    assert _handshake(modern.target())[2] == "TLSv1.3"  # the same servers shake hands for the first handshake


def test_each_legacy_version_is_asked_alone(leaf: Issued, pki: Pki, servers: Servers) -> None:
    only_tls1 = servers.start(BundledTlsServer([leaf, pki.intermediate], versions=(SSL.TLS1_VERSION, SSL.TLS1_VERSION)))

    assert _accepts(only_tls1, "TLSv1")
    assert not _accepts(only_tls1, "TLSv1.1")


def test_debians_s_server_told_to_serve_tls1_is_found_accepting_it(leaf: Issued, pki: Pki) -> None:
    need_openssl()
    with SServer([leaf, pki.intermediate], None, "-tls1", "-cipher", "ALL:@SECLEVEL=0") as server:
        assert _accepts(server, "TLSv1")
        assert not _accepts(server, "TLSv1.1")


def test_the_legacy_probe_runs_the_starttls_dialogue_first(leaf: Issued, pki: Pki, servers: Servers) -> None:
    server = servers.start(TlsServer([leaf, pki.intermediate], dialogue="smtp"))
    refusing = servers.start(
        BundledTlsServer([leaf, pki.intermediate], dialogue="smtp", versions=(SSL.TLS1_2_VERSION, 0))
    )

    assert _accepts(server, "TLSv1", "smtp")
    assert not _accepts(refusing, "TLSv1", "smtp")


def test_what_stops_the_legacy_probe_before_tls_is_no_answer(servers: Servers) -> None:
    garbage = servers.start(GarbageServer())
    silent = servers.start(SilentServer())
    probe = LegacyProbe(timeout=0.5)

    with closed_port() as port, pytest.raises(ProbeError) as refused:
        probe.accepts(parse_target(f"tls://127.0.0.1:{port}"), "127.0.0.1", "TLSv1")
    with pytest.raises(ProbeError) as not_tls:
        probe.accepts(parse_target(garbage.target()), "127.0.0.1", "TLSv1")
    with pytest.raises(ProbeError) as late:
        probe.accepts(parse_target(silent.target()), "127.0.0.1", "TLSv1.1")

    assert refused.value.reason is FailureReason.REFUSED
    assert not_tls.value.reason is FailureReason.PROTOCOL
    assert late.value.reason is FailureReason.TIMEOUT
    assert "0.5s" in late.value.message  # its own deadline, not the check's


def _client_hello_extensions(context: SSL.Context) -> dict[int, bytes]:
    """The extensions of the ClientHello ``context`` sends (type → body), read from a memory BIO."""
    connection = SSL.Connection(context, None)
    connection.set_connect_state()
    with pytest.raises(SSL.WantReadError):
        connection.do_handshake()
    hello = connection.bio_read(65536)
    at = 5 + 4 + 2 + 32  # record header, handshake header, legacy_version, random
    at += 1 + hello[at]  # legacy_session_id
    at += 2 + struct.unpack("!H", hello[at : at + 2])[0]  # cipher_suites
    at += 1 + hello[at]  # legacy_compression_methods
    end = at + 2 + struct.unpack("!H", hello[at : at + 2])[0]
    at += 2
    extensions = {}
    while at < end:
        kind, size = struct.unpack("!HH", hello[at : at + 4])
        extensions[kind] = hello[at + 4 : at + 4 + size]
        at += 4 + size
    return extensions


def _key_shares(body: bytes) -> list[int]:
    shares, at = [], 2
    while at < len(body):
        group, size = struct.unpack("!HH", body[at : at + 4])
        shares.append(group)
        at += 4 + size
    return shares
