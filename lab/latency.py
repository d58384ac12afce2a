"""A network's distance on loopback: a proxy that delays every flight by a round-trip time with jitter.

``LatencyProxy`` listens on a free port and forwards each connection to a server behind it
(``upstream``). What one side sends reaches the other half a round trip later (``rtt`` seconds,
give or take half of ``jitter``, drawn per chunk), in order: a TLS handshake's flights each pay
the delay, as they would across the internet, while neither the proxy's nor the server's CPU
grows with it. Tarpits (a host that accepts and never answers) are ``lab.servers.SilentServer``.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import socket
import threading
import time

from lab.servers import LoopbackServer


class LatencyProxy(LoopbackServer):
    """Forwards connections to ``upstream`` with ``rtt`` ± ``jitter``/2 seconds per round trip."""

    def __init__(self, upstream: tuple[str, int], *, rtt: float, jitter: float = 0.0, seed: int | None = None) -> None:
        super().__init__()
        self.upstream = upstream
        self.rtt = rtt
        self.jitter = jitter
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def one_way(self) -> float:
        """Half a round trip, jittered: what one chunk waits before it is passed on."""
        with self._lock:
            spread = self._random.uniform(-self.jitter / 2, self.jitter / 2)
        return max(0.0, (self.rtt + spread) / 2)

    def handle(self, conn: socket.socket) -> None:
        with socket.create_connection(self.upstream, timeout=30) as server:
            back = threading.Thread(target=self._pump, args=(server, conn), daemon=True)
            back.start()
            self._pump(conn, server)
            back.join(timeout=30)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Pass what ``source`` sends on to ``sink`` a one-way delay later, never out of order."""
        pending: list[tuple[float, int, bytes]] = []
        ready = threading.Condition()
        done = threading.Event()
        sequence = 0

        def deliver() -> None:
            while True:
                with ready:
                    while not pending and not done.is_set():
                        ready.wait()
                    if not pending:
                        break
                    due, _, chunk = pending[0]
                    wait = due - time.monotonic()
                    if wait > 0:
                        ready.wait(wait)
                        continue
                    heapq.heappop(pending)
                try:
                    sink.sendall(chunk)
                except OSError:
                    break
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        last_due = 0.0
        try:
            while chunk := source.recv(65536):
                # A later chunk never overtakes an earlier one, whatever the jitter drew.
                last_due = max(last_due, time.monotonic() + self.one_way())
                with ready:
                    heapq.heappush(pending, (last_due, sequence, chunk))
                    sequence += 1
                    ready.notify()
        except OSError:
            pass
        finally:
            with ready:
                done.set()
                ready.notify()
            sender.join(timeout=30)
