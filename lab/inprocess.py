"""moto in-process, as the tests and benchmarks use it: one request at a time.

moto's in-process backends are not thread-safe; AWS's services are. Bulk imports, sweeps and a
batch's recorders call them from many threads, so moto answers one request at a time here, as the
local stack's moto server does (lab/localaws.py): a race inside moto must never pass for one of ours.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def one_request_at_a_time() -> Iterator[None]:
    """While inside, every in-process moto request waits for the one before it."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    BotocoreStubber.process_request = serialised  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]
