"""The DNS adapter: every address behind a name, within a deadline."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from chalicelib.domain.models import FailureReason
from chalicelib.errors import ProbeError

Lookup = Callable[..., list[Any]]


class SystemResolver:
    """Resolves names with the system resolver; ``overrides`` pin names to addresses (curl's --resolve).

    getaddrinfo cannot be interrupted, so lookups run on a few threads of their own and the
    caller stops waiting at its deadline.
    """

    def __init__(
        self,
        overrides: Mapping[str, Sequence[str]] | None = None,
        *,
        lookup: Lookup = socket.getaddrinfo,
        threads: int = 8,
    ) -> None:
        self._overrides = {
            name.lower(): list(dict.fromkeys(addresses)) for name, addresses in (overrides or {}).items()
        }
        self._lookup = lookup
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="certwatch-dns")

    def resolve(self, host: str, port: int, *, timeout: float) -> list[str]:
        """The distinct addresses of ``host`` in resolver order; ProbeError(DNS) if there are none."""
        pinned = self._overrides.get(host.lower())
        if pinned is not None:
            return pinned
        future = self._pool.submit(
            self._lookup, host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG
        )
        try:
            answers = future.result(timeout=timeout)
        except FutureTimeout as exc:
            raise ProbeError(FailureReason.DNS, f"DNS lookup of {host} timed out after {timeout:g}s") from exc
        except socket.gaierror as exc:
            raise ProbeError(FailureReason.DNS, f"cannot resolve {host}: {exc.strerror}") from exc
        except OSError as exc:
            raise ProbeError(FailureReason.DNS, f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
        if not addresses:
            raise ProbeError(FailureReason.DNS, f"{host} has no address")
        return addresses

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
