"""The local stack's ports in tests and benchmarks: free, and out of the way of other processes' connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.local import free_ports

RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(not RANGE.exists(), reason="no ephemeral range said by the kernel (not Linux)")
def test_the_stacks_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    low = int(RANGE.read_text().split()[0])
    for _ in range(20):
        api, aws, demo = free_ports()
        ports = [api, aws, demo, demo + 1, demo + 2]
        assert len(set(ports)) == 5
        assert all(port < low for port in ports)  # no outgoing connection's end is ever one of them
        for port in ports:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))
