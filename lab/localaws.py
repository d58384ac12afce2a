"""moto's server for the local stack, made to hold a team's load: one request at a time, cheap transactions.

moto's backends are not thread-safe: under the local stack's concurrent requests its server
raised ``RuntimeError: dictionary changed size during iteration`` and answered 500,
inside ``transact_write_items`` (copying a table another request was writing) and inside queries
(walking a partition another request was growing). So every request holds one lock while moto
handles it; connections are still accepted, and request bodies read, concurrently. ``stats``
says what the lock costs. The local stack runs it in a process of its own
(``LocalAwsProcess``), beside the API and the checkers rather than under their GIL.

Two of moto's costs grow with the data and made a team's load take minutes, so the local stack
trims them (``lighten_moto``; measured with 1,000 targets on 2 cores):

- ``transact_write_items`` backs up every table it touches with ``copy.deepcopy`` before it
  starts (~100 ms a write); here it backs up only the items it touches, restoring those when
  the transaction is cancelled.
- SQS recounts every message of the queue, reading its slow clock twice per message, for each
  message sent (~50 ms a message); here that clock is ``time.time()``.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("lab.localaws")
# How often the server looks whether it is asked to stop, or its parent is gone.
STOP_POLL = 0.1
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class LockStats:
    """Requests served one at a time, and the seconds they spent waiting for and holding the lock."""

    requests: int = 0
    waited: float = 0.0
    held: float = 0.0
    longest_wait: float = 0.0

    def summary(self) -> str:
        if not self.requests:
            return "moto served no request"
        return (
            f"moto served {self.requests:,} requests one at a time: "
            f"{1000 * self.held / self.requests:.1f} ms handling each on average, "
            f"{1000 * self.waited / self.requests:.1f} ms waiting for the one before "
            f"(longest wait {1000 * self.longest_wait:.0f} ms)"
        )


class Serialised:
    """A WSGI application that lets one request at a time into the application it wraps."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.stats = LockStats()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        _buffer_body(environ)  # a slow sender must not hold the lock
        asked = time.perf_counter()
        with self._lock:
            got = time.perf_counter()
            try:
                answer = self._app(environ, start_response)
                try:
                    body = b"".join(answer)
                finally:
                    close = getattr(answer, "close", None)
                    if close is not None:
                        close()
            finally:
                done = time.perf_counter()
                self.stats.requests += 1
                self.stats.waited += got - asked
                self.stats.held += done - got
                self.stats.longest_wait = max(self.stats.longest_wait, got - asked)
        return [body]


def _buffer_body(environ: dict[str, Any]) -> None:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: the stream ends itself
        data = stream.read()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))


class _TablesByReference:
    """Stands in for the ``copy`` module in moto's DynamoDB backend: a Table's "deep copy" is itself."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, self._table_type) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def lighten_moto() -> None:
    """Trim moto's costs that grow with the data (see the module's docstring); once per process."""
    import moto.sqs.models

    moto.sqs.models.unix_time_millis = _unix_time_millis  # type: ignore[assignment,attr-defined]
    _items_only_transactions()


def _unix_time_millis(moment: Any = None) -> float:
    """moto's unix_time_millis, reading the clock the fast way (moto's reads it through datetime)."""
    from moto.core.utils import unix_time_millis

    return time.time() * 1000.0 if moment is None else unix_time_millis(moment)


def _items_only_transactions() -> None:
    """Make moto's DynamoDB transactions back up (and on cancellation restore) only the items they touch."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "items_only", False):
        return
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
                keys = op["Key"] if "Key" in op else {name: op["Item"][name] for name in names}
                hash_key, range_key = self.get_keys_value(table, keys)
            except Exception:
                continue  # moto refuses the malformed entry itself, before it writes anything
            saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                _restore(table, hash_key, range_key, item)
            raise

    transact_write_items.items_only = True  # type: ignore[attr-defined]
    models.copy = _TablesByReference(Table)  # type: ignore[assignment,attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Put back what ``table`` held under a key before a cancelled transaction (None: nothing)."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items[hash_key].pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


class LocalAws:
    """moto's server on 127.0.0.1:``port``, one request at a time (see the module's docstring)."""

    def __init__(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        lighten_moto()
        self.app = Serialised(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", port, self.app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": STOP_POLL}, name="local-aws", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> LocalAws:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class LocalAwsProcess:
    """LocalAws in a process of its own, so moto's work runs beside the stack's, not under its GIL.

    It logs to ``log_file`` (with what serialising cost, when it stops), does not see Ctrl-C (the
    stack stops it last, with ``stop``) and exits by itself if the stack's process goes away, even
    killed with SIGKILL: it asks for its parent a few times a second. Starting waits until moto
    answers, or until ``cancelled()`` (the stack is asked to stop: then ``stop`` it, ready or not).
    """

    def __init__(
        self, port: int, log_file: Path, *, ready_within: float = 60.0, cancelled: Callable[[], bool] = lambda: False
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        # A session of its own: Ctrl-C in the terminal is for the stack, which stops moto last.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "lab.localaws", str(port), str(log_file), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + ready_within
        while not _accepts(port) and not cancelled():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto's server did not start on port {port}; see {log_file}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, and SIGKILL if it is still there ``timeout`` s later; returns once the process is reaped."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process.wait()


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def log_to(path: Path) -> None:
    """Warnings and errors of every library, tracebacks included, to ``path`` (appended), not the terminal."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request; errors still
    logger.setLevel(logging.INFO)
    logging.captureWarnings(True)  # moto's "AWS::CloudWatch::Alarm not supported" and the like


def main(argv: list[str]) -> int:
    """``python -m lab.localaws PORT LOG_FILE PARENT_PID``: serve until SIGTERM, or until that process is gone."""
    port, log_file, parent = int(argv[0]), Path(argv[1]), int(argv[2])
    terminated: list[int] = []  # the handler only notes the signal: taking a lock there can deadlock (see lab.local)
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
    log_to(log_file)
    server = LocalAws(port).start()
    while not terminated and os.getppid() == parent:
        time.sleep(STOP_POLL)
    server.stop()
    logger.info("%s", server.app.stats.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
