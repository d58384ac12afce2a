"""Whole-process benchmark: ``certwatch check --json`` as a user runs it, beside its peers.

Over the same N loopback endpoints in the same run (a zoo of healthy and broken chains served
from child processes), it measures:

- ``certwatch check --json`` — one process over every target: wall time and CPU (user + system);
- prometheus-blackbox-exporter's tcp+tls probe (Debian's ``prometheus-blackbox-exporter``;
  ``--install`` runs apt-get for it, as root) — one /probe request per endpoint, 32 at a time,
  and the exporter's own CPU; it handshakes and reads the expiry but names no problem: once
  given ``insecure_skip_verify`` (its figure then an upper bound), once verifying as a user would
  (the zoo's root as its CA file, each endpoint's name as its server name);
- ``openssl s_time -new`` against one endpoint for a few seconds: the raw limit of full TLS
  handshakes of one OpenSSL process on this machine, and the CPU its client spends on each (the
  floor under any checker built on the same OpenSSL);
- certwatch's floor (``bench/floor.py``, a fresh process each round): the TLS handshake (pyOpenSSL
  on the OpenSSL cryptography bundles) and the judging of the chain, one target at a time,
  nothing else — what no check on this stack can do without, as a ratio of blackbox's whole check;
- start-up: ``certwatch check --help`` (median of 10) beside ``python -c pass``; and importing
  ``app.py`` beside a bare Chalice app that imports boto3.

The machine's speed drifts between runs; read the ratios, which come from one run.
With ``--rtt`` every endpoint is behind a ``lab.latency.LatencyProxy`` (that round trip ± half of it per
flight, in a child process), as real endpoints are far: on loopback every server answers at once.

    make bench                                  # the engine, then this with 500 endpoints
    python -m bench.whole --endpoints 200 --install
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from OpenSSL import SSL

from bench import loopback

ROOT = Path(__file__).resolve().parent.parent
CERTWATCH = Path(sys.executable).parent / "certwatch"
BLACKBOX = "prometheus-blackbox-exporter"
# As a user's machine runs it: with the bytecode cache Python writes on the first run.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


@dataclass(frozen=True)
class Run:
    """What one contender did over the endpoints."""

    checks: int
    wall: float
    cpu: float
    ok: int

    @property
    def rate(self) -> float:
        return self.checks / self.wall

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / self.checks


def run_certwatch(zoo: loopback.Zoo, folder: Path, extra: list[str]) -> Run:
    root = folder / "root.pem"
    root.write_bytes(zoo.root.pem)
    targets = folder / "targets.txt"
    targets.write_text("\n".join(zoo.targets()) + "\n")
    pins = [f"--resolve={name}:127.0.0.1" for name in zoo.names]
    command = [str(CERTWATCH), "check", "--json", "--ca-file", str(root), "--targets-file", str(targets), *pins, *extra]
    subprocess.run([str(CERTWATCH), "inspect", "--help"], env=ENV, capture_output=True, check=True)  # warm-up
    _child_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    out, err = process.communicate()
    wall = time.perf_counter() - started
    usage = _child_cpu()
    lines = out.splitlines()
    if len(lines) != len(zoo.ports):
        raise RuntimeError(f"certwatch printed {len(lines)} reports for {len(zoo.ports)} targets: {err[-400:]}")
    ok = sum('"status": "ok"' in line for line in lines)
    return Run(len(lines), wall, usage, ok)


_children_cpu_seen = 0.0


def _child_cpu() -> float:
    """CPU seconds of the children waited for since the last call (their rusage)."""
    global _children_cpu_seen
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    spent, _children_cpu_seen = total - _children_cpu_seen, total
    return spent


def run_blackbox(zoo: loopback.Zoo, folder: Path, concurrency: int, *, verify: bool = False) -> Run | None:
    """blackbox_exporter's tcp+tls probe of every endpoint, ``concurrency`` at once: with verification off, or,
    with ``verify``, as a user verifying would probe it (the zoo's root as its CA file, the endpoint's name as
    the server name: one module per endpoint, as the maintainers advise, since Debian's 0.23 has no
    ``hostname`` parameter for tcp probes)."""
    executable = shutil.which(BLACKBOX)
    if executable is None:
        return None
    config = folder / "blackbox.yml"
    tcp = "    prober: tcp\n    timeout: 10s\n    tcp:\n      tls: true\n      tls_config:\n"
    if verify:
        (folder / "root.pem").write_bytes(zoo.root.pem)
        modules = "".join(
            f"  {name}:\n{tcp}        ca_file: {folder / 'root.pem'}\n        server_name: {name}\n"
            for name in zoo.names
        )
        module_of = dict(zip(zoo.ports, zoo.names, strict=True))
    else:
        modules = f"  tls:\n{tcp}        insecure_skip_verify: true\n"
        module_of = dict.fromkeys(zoo.ports, "tls")
    config.write_text("modules:\n" + modules)
    port = _free_port()
    with _process([executable, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"]) as exporter:
        _wait_healthy(port)
        before = _proc_cpu(exporter.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            answers = list(pool.map(lambda p: _probe(port, module_of[p], p), zoo.ports))
        wall = time.perf_counter() - started
        cpu = _proc_cpu(exporter.pid) - before
    return Run(len(answers), wall, cpu, sum(answers))


def _probe(port: int, module: str, target_port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", f"/probe?module={module}&target=127.0.0.1:{target_port}")
        body = connection.getresponse().read().decode()
    finally:
        connection.close()
    return "\nprobe_success 1" in body


def run_s_time(port: int, seconds: int) -> tuple[float, float] | None:
    """Full handshakes per second of ``openssl s_time -new``, and its CPU milliseconds per handshake."""
    if shutil.which("openssl") is None:
        return None
    _child_cpu()
    done = subprocess.run(
        ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    cpu = _child_cpu()
    match = re.search(r"(\d+) connections in ([\d.]+) real seconds", done.stdout)
    if match is None or not int(match.group(1)):
        return None
    handshakes = int(match.group(1))
    return handshakes / float(match.group(2)), cpu * 1000 / handshakes


def run_floor(folder: Path) -> tuple[float, float]:
    """certwatch's floor (``bench/floor.py``, in a fresh process): CPU ms per target of the handshake,
    and of judging the chain, one target at a time over the targets ``run_certwatch`` wrote."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.floor", str(folder / "targets.txt"), str(folder / "root.pem")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=ENV,
    )
    handshake, judging = done.stdout.split()
    return float(handshake), float(judging)


def startup() -> tuple[float, float]:
    """Median seconds of ``certwatch check --help`` and of ``python -c pass``, ten runs each."""

    def median(command: list[str]) -> float:
        times = []
        for _ in range(10):
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env=ENV)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return median([str(CERTWATCH), "check", "--help"]), median([sys.executable, "-c", "pass"])


_BARE_APP = "import boto3\nfrom chalice import Chalice\napp = Chalice(app_name='bare')\n"


def app_import() -> tuple[float, float]:
    """Median seconds to import ``app.py`` (every handler's cold start) and a bare Chalice app with boto3."""
    env = {**ENV, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(ROOT)}

    def median(code: str) -> float:
        times = []
        for _ in range(5):
            done = subprocess.run(
                [sys.executable, "-c", f"import time; t = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env=env,
            )
            times.append(float(done.stdout.split()[-1]))
        return statistics.median(times)

    return median("import app"), median(_BARE_APP)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=500, help="loopback TLS servers (default 500)")
    parser.add_argument("--server-processes", type=int, default=2, help="processes serving TLS (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="blackbox probes in flight (default 32)")
    parser.add_argument("--s-time", type=int, default=5, help="seconds of openssl s_time (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each contender, in turn (default 3)")
    parser.add_argument(
        "--rtt",
        type=float,
        default=0.0,
        help="each endpoint behind a lab.latency.LatencyProxy: a round trip of this many seconds (± half of it) "
        "per flight, as real endpoints are far (default 0: on loopback, every server answers at once)",
    )
    parser.add_argument("--install", action="store_true", help=f"apt-get install {BLACKBOX} when it is missing")
    parser.add_argument("certwatch_args", nargs="*", help="extra options for certwatch check (after --)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.install and shutil.which(BLACKBOX) is None:
        subprocess.run(["apt-get", "install", "-y", "-q", BLACKBOX], check=False, capture_output=True)

    bundled = SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()
    print(
        f"whole process: python {sys.version.split()[0]}, handshakes on {bundled} (pyOpenSSL), the servers and "
        f"s_time on {ssl.OPENSSL_VERSION}, {os.cpu_count()} CPUs, {args.endpoints} endpoints"
    )
    with contextlib.ExitStack() as stack:
        zoo = stack.enter_context(loopback.serving(args.endpoints, args.server_processes))
        if args.rtt:
            zoo = dataclasses.replace(zoo, ports=stack.enter_context(loopback.in_child(_far, zoo.ports, args.rtt)))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        _child_cpu()
        mine: list[Run] = []
        theirs: list[Run] = []
        verifying: list[Run] = []
        floors: list[tuple[float, float]] = []
        for _ in range(max(1, args.rounds)):  # in turn, so a drift of the machine's speed hits every row alike
            mine.append(run_certwatch(zoo, folder, args.certwatch_args))
            for kept, verify in ((theirs, False), (verifying, True)):
                blackbox = run_blackbox(zoo, folder, args.concurrency, verify=verify)
                if blackbox is not None:
                    kept.append(blackbox)
            floors.append(run_floor(folder))
        raw = run_s_time(zoo.ports[0], args.s_time)
    rounds = len(mine)
    print(f"  medians of {rounds} rounds (lowest-highest in brackets); the ratios are each round's own")
    rows = [("certwatch check --json", mine)]
    if theirs:
        rows.append((f"blackbox_exporter tcp+tls ({args.concurrency} at once)", theirs))
        rows.append((f"blackbox_exporter tcp+tls verifying ({args.concurrency})", verifying))
    for label, runs in rows:
        print(
            f"  {label:<40} {_spread([r.rate for r in runs], '{:,.0f}')} checks/s  "
            f"{_spread([r.cpu_ms for r in runs])} CPU ms/check  {_spread([r.wall for r in runs])} s wall  "
            f"({runs[0].ok} ok of {runs[0].checks})"
        )
    if not theirs:
        print(f"  blackbox_exporter: not installed (apt-get install {BLACKBOX}, or --install): row skipped")
    else:
        print(ratio_line(mine, theirs))
        print(ratio_line(mine, verifying, "blackbox verifying"))
    if raw is not None:
        print(
            f"  openssl s_time -new (one endpoint, {args.s_time} s): {raw[0]:,.0f} handshakes/s, "
            f"{raw[1]:.2f} CPU ms per handshake (OpenSSL's client alone)"
        )
    handshakes, judgings = [h for h, _ in floors], [j for _, j in floors]
    print(
        f"  certwatch's floor, one target at a time (bench/floor.py): the handshake {_spread(handshakes)} "
        f"+ judging the chain {_spread(judgings)} CPU ms"
    )
    against = [(floor, t) for floor, t in zip(floors, theirs, strict=False) if t.cpu > 0]
    if against:
        print(
            f"    as blackbox's whole check: the handshake {_spread([h / t.cpu_ms for (h, _), t in against])}x, "
            f"with the judging {_spread([(h + j) / t.cpu_ms for (h, j), t in against])}x"
        )
    help_s, python_s = startup()
    print(
        f"  start-up: certwatch check --help {help_s * 1000:.0f} ms, "
        f"python -c pass {python_s * 1000:.0f} ms (median of 10)"
    )
    app_s, bare_s = app_import()
    print(
        f"  cold import: app.py {app_s * 1000:.0f} ms, bare Chalice app with boto3 {bare_s * 1000:.0f} ms "
        f"({app_s / bare_s:.2f}x; median of 5)"
    )
    return 0


def _far(ports: list[int], rtt: float, answer: Any, stop: Any) -> None:  # pragma: no cover - runs in the child
    """A latency proxy in front of each of ``ports``: sends their own ports, and serves until told to stop."""
    from lab.latency import LatencyProxy

    proxies = [
        LatencyProxy(("127.0.0.1", port), rtt=rtt, jitter=rtt / 2, seed=index).start()
        for index, port in enumerate(ports)
    ]
    answer.send([proxy.port for proxy in proxies])
    stop.recv()
    for proxy in proxies:
        proxy.stop()


def ratio_line(mine: list[Run], theirs: list[Run], peer: str = "blackbox") -> str:
    """certwatch / blackbox, each round's own ratio: checks/s, and CPU per check where blackbox's was measurable."""
    pairs = list(zip(mine, theirs, strict=True))
    cpu = [m.cpu_ms / t.cpu_ms for m, t in pairs if t.cpu > 0]
    return f"  ratio certwatch / {peer}: {_spread([m.rate / t.rate for m, t in pairs])}x checks/s, " + (
        f"{_spread(cpu)}x CPU per check" if cpu else _TOO_SHORT
    )


def _spread(values: list[float], form: str = "{:.2f}") -> str:
    """The median, and the lowest and highest in brackets when there are several."""
    middle = form.format(statistics.median(values))
    if len(values) < 2:
        return middle
    return f"{middle} ({form.format(min(values))}-{form.format(max(values))})"


@contextlib.contextmanager
def _process(command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/-/healthy")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("blackbox_exporter did not start")


# The exporter's CPU is read from /proc in clock ticks (10 ms): a small run can show none.
_TOO_SHORT = "CPU per check not compared: blackbox's run was too short to measure (use more endpoints)"


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())
