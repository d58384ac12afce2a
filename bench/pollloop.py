"""What one poll loop driving every handshake would save over a thread each: the client's CPU per TLS handshake.

The engine runs each check's handshake on a thread of its own (32 in flight), and pyOpenSSL
releases and takes back the interpreter's lock around every OpenSSL call, so the threads contend
for it. This measures, in one run and in alternating rounds, the client's CPU per handshake
(``time.process_time`` of this process; the servers run in a child process) three ways over the
same loopback servers:

    threads   ``TlsProbe.handshake`` on 32 threads, as the engine runs it
    one       ``TlsProbe.handshake`` one after another, no concurrency (the floor's way)
    loop      one thread, one ``select.poll`` driving up to 32 non-blocking pyOpenSSL handshakes
              at once (the same context, SNI, and the peer's chain read out as the probe does)
    handed    32 threads as the engine's, each connecting, then handing its socket to one loop
              thread for the TLS handshake and waiting for it there (the engine kept, the
              handshakes alone moved into a loop)

and two ways of whole checks, the chain judged as the engine judges it (nothing asked of the CA):

    engine    ``CheckEngine.check_many``, as the CLI's worker runs it: since the second session of
              2026-12-08 its handshakes on its probe's one loop (32 in flight), judged on its pool
    judged    the ``loop`` way, each chain judged on the loop's own thread when its handshake is done

The ``loop`` and ``judged`` ways are the prototype the engine's ``HandshakeLoop`` was built from: they
do no STARTTLS, and have no deadlines.

    .venv/bin/python -m bench.pollloop --handshakes 600 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import os
import queue
import select
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from cryptography import x509
from OpenSSL import SSL, crypto

from bench.loopback import in_child
from chalicelib.checks.engine import CheckEngine, CheckRequest
from chalicelib.checks.resolver import SystemResolver
from chalicelib.checks.tlsprobe import TlsProbe, client_context
from chalicelib.domain.analysis import analyze_chain
from chalicelib.domain.clock import utc_now
from chalicelib.domain.endpoints import parse_target
from chalicelib.domain.models import CheckPolicy
from chalicelib.domain.truststore import TrustStore, load_trust_store

NAME = "loop.bench.test"
IN_FLIGHT = 32


def _serve(servers: int, answer: Connection, stop: Connection) -> None:  # pragma: no cover - runs in the child
    from lab.certs import make_ca, make_cert
    from lab.servers import TlsServer

    root = make_ca("certwatch Poll Bench Root")
    inter = make_ca("certwatch Poll Bench Intermediate", issuer=root)
    leaf = make_cert(NAME, issuer=inter)
    running = [TlsServer([leaf.der, inter.der], leaf.key).start() for _ in range(servers)]
    answer.send(([server.port for server in running], root.pem))
    stop.recv()
    for server in running:
        server.stop()


def with_threads(ports: list[int]) -> int:
    probe = TlsProbe()
    endpoints = [parse_target(f"tls://{NAME}:{port}") for port in ports]
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        done = list(pool.map(lambda e: probe.handshake(e, "127.0.0.1", timeout=10), endpoints))
    return sum(bool(shaken.served) for shaken in done)


def one_at_a_time(ports: list[int]) -> int:
    probe = TlsProbe()
    endpoints = [parse_target(f"tls://{NAME}:{port}") for port in ports]
    return sum(bool(probe.handshake(e, "127.0.0.1", timeout=10).served) for e in endpoints)


Judge = Callable[[list[bytes], str, str | None, str | None], None]  # the chain, version, cipher, group


def in_one_loop(ports: list[int], judge: Judge | None = None) -> int:
    """Every handshake driven from one poll loop, at most IN_FLIGHT at once; each chain then ``judge``d there."""
    context = client_context()
    poller = select.poll()
    flying: dict[int, tuple[socket.socket, SSL.Connection | None]] = {}
    waiting, shaken = list(reversed(ports)), 0

    def start(port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        if code not in (0, errno.EINPROGRESS):
            raise OSError(code, "connect")
        flying[sock.fileno()] = (sock, None)
        poller.register(sock, select.POLLOUT)

    def step(fd: int) -> bool:
        """Drive one handshake on; True when it is over."""
        sock, tls = flying[fd]
        if tls is None:
            tls = SSL.Connection(context, sock)
            tls.set_tlsext_host_name(NAME.encode())
            tls.set_connect_state()
            flying[fd] = (sock, tls)
        try:
            tls.do_handshake()
        except SSL.WantReadError:
            poller.modify(fd, select.POLLIN)
            return False
        except SSL.WantWriteError:
            poller.modify(fd, select.POLLOUT)
            return False
        chain = [crypto.dump_certificate(crypto.FILETYPE_ASN1, cert) for cert in tls.get_peer_cert_chain() or []]
        version, cipher, group = tls.get_protocol_version_name(), tls.get_cipher_name(), tls.get_group_name()
        if judge is not None:
            judge(chain, version, cipher, group)
        return True

    while waiting and len(flying) < IN_FLIGHT:
        start(waiting.pop())
    while flying:
        for fd, _ in poller.poll(10_000):
            if step(fd):
                poller.unregister(fd)
                flying.pop(fd)[0].close()
                shaken += 1
                if waiting:
                    start(waiting.pop())
    return shaken


class _Loop:
    """One thread driving every handed-over handshake from one poll loop (the ``handed`` way)."""

    def __init__(self) -> None:
        self._context = client_context()
        self._poller = select.poll()
        self._inbox: queue.SimpleQueue[tuple[socket.socket, Future[list[bytes]]]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._poller.register(self._wake_r, select.POLLIN)
        self._flying: dict[int, tuple[SSL.Connection, Future[list[bytes]]]] = {}
        threading.Thread(target=self._run, daemon=True).start()

    def shake(self, sock: socket.socket) -> list[bytes]:
        """The peer's chain, once the loop has shaken hands on ``sock`` (connected)."""
        done: Future[list[bytes]] = Future()
        self._inbox.put((sock, done))
        os.write(self._wake_w, b"x")
        return done.result()

    def _run(self) -> None:
        while True:
            for fd, _ in self._poller.poll():
                if fd == self._wake_r:
                    self._take()
                    continue
                tls, done = self._flying[fd]
                try:
                    tls.do_handshake()
                except SSL.WantReadError:
                    self._poller.modify(fd, select.POLLIN)
                    continue
                except SSL.WantWriteError:
                    self._poller.modify(fd, select.POLLOUT)
                    continue
                self._poller.unregister(fd)
                del self._flying[fd]
                chain = [crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in tls.get_peer_cert_chain() or []]
                tls.get_protocol_version_name(), tls.get_cipher_name(), tls.get_group_name()
                done.set_result(chain)

    def _take(self) -> None:
        """Start each socket handed over since the last wake-up."""
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 4096)
        while True:
            try:
                sock, done = self._inbox.get_nowait()
            except queue.Empty:
                return
            tls = SSL.Connection(self._context, sock)
            tls.set_tlsext_host_name(NAME.encode())
            tls.set_connect_state()
            self._flying[sock.fileno()] = (tls, done)
            self._poller.register(sock, select.POLLOUT)


@functools.cache
def _loop() -> _Loop:
    """The one loop every ``handed`` handshake goes to (its thread runs on while the process does)."""
    return _Loop()


def handed_to_a_loop(ports: list[int]) -> int:
    """32 threads, each connecting, then handing its socket to one loop for the TLS handshake and waiting."""
    loop = _loop()

    def one(port: int) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(10)
            sock.connect(("127.0.0.1", port))
            return bool(loop.shake(sock))
        finally:
            sock.close()

    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        return sum(pool.map(one, ports))


_TRUST: list[TrustStore] = []  # the servers' root and the public ones, once the servers run


@functools.cache
def _engine() -> CheckEngine:
    """Built once, as the CLI's worker builds it once for all its checks."""
    return CheckEngine(trust=_TRUST[0], resolver=SystemResolver({NAME: ["127.0.0.1"]}))


def checked_by_the_engine(ports: list[int]) -> int:
    """Whole checks as the CLI's worker makes them (``CheckEngine.check_many``: a thread each, 32 in flight,
    the chain judged on that thread; nothing asked of the CA): how many read a chain."""
    requests = [_request(port) for port in ports]  # parsed once (the CLI parses its targets before any check)
    return sum(report.results[0].leaf is not None for report in _engine().check_many(requests))


@functools.cache
def _request(port: int) -> CheckRequest:
    return CheckRequest(parse_target(f"tls://{NAME}:{port}"), CheckPolicy())


def judged_in_one_loop(ports: list[int]) -> int:
    """The loop's handshakes, each chain judged on the loop's thread as the engine judges it (``analyze_chain``,
    then the result)."""
    now = utc_now()

    def judge(chain: list[bytes], version: str, cipher: str | None, group: str | None) -> None:
        analysis = analyze_chain(chain, name=NAME, now=now, trust=_TRUST[0], policy=CheckPolicy())
        if analysis.result(now, address="127.0.0.1", tls_version=version, cipher=cipher, group=group).leaf is None:
            raise SystemExit("the loop's judgement read no leaf")

    return in_one_loop(ports, judge)


def cpu_ms(way: Callable[[list[int]], int], ports: list[int]) -> float:
    began = time.process_time()
    shaken = way(ports)
    spent = time.process_time() - began
    if shaken != len(ports):
        raise SystemExit(f"{way.__name__}: {shaken} of {len(ports)} handshakes completed")
    return spent * 1000 / len(ports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handshakes", type=int, default=600, help="handshakes per way per round (default 600)")
    parser.add_argument("--servers", type=int, default=8, help="loopback TLS servers (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each way in turn (default 3)")
    args = parser.parse_args(argv)
    ways: dict[str, Callable[[list[int]], int]] = {
        "threads": with_threads,
        "one": one_at_a_time,
        "loop": in_one_loop,
        "handed": handed_to_a_loop,
        "engine": checked_by_the_engine,
        "judged": judged_in_one_loop,
    }
    with in_child(_serve, args.servers) as (servers, root_pem):
        _TRUST.append(load_trust_store().with_anchors([x509.load_pem_x509_certificate(root_pem)]))
        ports = [servers[n % len(servers)] for n in range(args.handshakes)]
        for way in ways.values():  # warm every way once (imports, the context, the servers' threads)
            cpu_ms(way, ports[: IN_FLIGHT * 2])
        spent: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                spent[name].append(cpu_ms(way, ports))
    medians: dict[str, Any] = {name: statistics.median(figures) for name, figures in spent.items()}
    print(f"the client's CPU ms per TLS handshake, {args.handshakes} handshakes, median of {args.rounds} rounds:")
    for name in ("threads", "one", "loop", "handed"):
        figures = spent[name]
        print(
            f"  {name:<8} {medians[name]:.3f} ({min(figures):.3f}-{max(figures):.3f}); "
            f"{medians[name] / medians['threads']:.2f}x threads'"
        )
    print("the client's CPU ms per check, the chain judged (nothing asked of the CA), the same rounds:")
    for name in ("engine", "judged"):
        figures = spent[name]
        print(
            f"  {name:<8} {medians[name]:.3f} ({min(figures):.3f}-{max(figures):.3f}); "
            f"{medians[name] / medians['engine']:.2f}x the engine's"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
