"""A small per-process cache whose entries carry their own expiry, computed once per key at a time.

CRLs, OCSP answers and ACME renewal information are each good until a moment the source names
(nextUpdate, Retry-After): a warm Lambda or a long CLI run keeps them until then. When several
checks want the same key at once (the addresses of one endpoint, endpoints of one CA), one
fetches and the others wait for its answer instead of fetching too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime


class ExpiringCache[K: Hashable, V]:
    """Values until their expiry, judged by the caller's ``now`` (so tests move time, not sleep)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: dict[K, tuple[V, datetime]] = {}
        self._computing: dict[K, threading.Lock] = {}

    def get(self, key: K, now: datetime, compute: Callable[[], tuple[V, datetime]]) -> V:
        """The cached value while ``now`` is before its expiry, else ``compute()``'s (value, expiry)."""
        with self._lock:
            hit = self._fresh(key, now)
            if hit is not None:
                return hit[0]
            turn = self._computing.setdefault(key, threading.Lock())
        with turn:
            with self._lock:
                hit = self._fresh(key, now)
                if hit is not None:
                    return hit[0]
            value, until = compute()
            with self._lock:
                self._entries.pop(key, None)
                self._entries[key] = (value, until)
                while len(self._entries) > self._max:  # the oldest written goes first
                    oldest = next(iter(self._entries))
                    del self._entries[oldest]
                    self._computing.pop(oldest, None)
            return value

    def __len__(self) -> int:
        return len(self._entries)

    def _fresh(self, key: K, now: datetime) -> tuple[V] | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= now:
            return None
        return (entry[0],)
