"""The whole-process benchmark runs and prints its rows (a small zoo, one round): it does not rot.

Speed is never asserted here (bench/README.md holds the figures); only that every row is there
and reads as figures.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIGURE = r"\d+(?:\.\d+)?"


def _bench(module: str, *args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    """A benchmark run as `python -m` runs it, from the repository, its output kept."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )


def test_the_whole_process_benchmark_prints_every_row() -> None:
    # Behind latency proxies (--rtt): every contender reads every endpoint through them, as it would read far ones.
    done = _bench("bench.whole", "--endpoints", "8", "--rounds", "1", "--s-time", "1", "--rtt", "0.01", timeout=300)

    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert re.search(rf"certwatch check --json +{FIGURE} checks/s +{FIGURE} CPU ms/check .*\(3 ok of 8\)", out), out
    if shutil.which("prometheus-blackbox-exporter") is None:  # .ci/run installs it: CI never skips this
        assert os.environ.get("CI") != "true", "CI installs prometheus-blackbox-exporter (.ci/run)"
        assert "blackbox_exporter: not installed" in out, out
    else:  # verification off, every handshake completes; verifying, the zoo's 3 healthy and 1 expiring pass
        assert re.search(rf"blackbox_exporter tcp\+tls \(32 at once\) +{FIGURE} checks/s .*\(8 ok of 8\)", out), out
        assert re.search(rf"blackbox_exporter tcp\+tls verifying \(32\) +{FIGURE} checks/s .*\(4 ok of 8\)", out), out
        assert "ratio certwatch / blackbox: " in out, out
        assert "ratio certwatch / blackbox verifying: " in out, out
    floor = re.search(rf"the handshake ({FIGURE}) \+ judging the chain ({FIGURE}) CPU ms", out)
    assert floor is not None, out
    assert float(floor[1]) > 0
    assert float(floor[2]) > 0
    assert re.search(rf"start-up: certwatch check --help {FIGURE} ms", out), out
    assert re.search(rf"cold import: app.py {FIGURE} ms, bare Chalice app with boto3 {FIGURE} ms", out), out


def test_the_legacy_probe_benchmark_prints_every_row() -> None:
    done = _bench("bench.legacy", "--endpoints", "4", "--rounds", "1", timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for label in ("the check's handshake (accepted zoo)", "TLSv1 alone, accepted", "TLSv1.1 alone, refused"):
        assert re.search(rf"{re.escape(label)} +{FIGURE} CPU ms +{FIGURE} ms wall", out), out


def test_a_blackbox_run_too_short_to_show_cpu_is_not_divided_by() -> None:
    """blackbox's CPU is read in 10 ms clock ticks: a small run can show none (it once ended the benchmark)."""
    from bench.whole import Run, ratio_line

    mine = [Run(checks=8, wall=0.2, cpu=0.05, ok=3)]

    assert ratio_line(mine, [Run(checks=8, wall=0.1, cpu=0.0, ok=8)]) == (
        "  ratio certwatch / blackbox: 0.50x checks/s, "
        "CPU per check not compared: blackbox's run was too short to measure (use more endpoints)"
    )
    assert ratio_line(mine, [Run(checks=8, wall=0.1, cpu=0.01, ok=8)]) == (
        "  ratio certwatch / blackbox: 0.50x checks/s, 5.00x CPU per check"
    )


def test_the_batch_benchmark_cuts_the_tarpit_loose_and_checks_it_alone() -> None:
    done = _bench("bench.batch", "--endpoints", "9", "--batch", "5", "--timeout", "2", "--rtt", "0.02", timeout=180)

    assert done.returncode == 0, done.stderr[-2000:]
    waits, cut, again = (line for line in done.stdout.splitlines() if line.startswith("batch"))
    assert "no cut (waits for all)" in waits
    assert "checker_alone 0.0 s over 0" in waits
    assert "cut, stragglers alone, first checks" in cut
    assert "cut, stragglers alone, checked again (unchanged)" in again
    for line in (cut, again):
        # the tarpit at least (a live check slower than the cut allows goes too, and is checked alone at once)
        assert re.search(r"checker_alone [0-9.]+ s over [1-9]", line), line
    for line in (waits, cut, again):  # either way the tarpit ends as a timeout: the cut never judges it early
        assert "tarpits: {'error (timeout)': 1}" in line, line
        assert re.search(rf"wall/floor median {FIGURE}x", line), line
        assert line.endswith("messages given back: 0"), line


def test_the_sweep_benchmark_prints_its_units_and_an_unchanged_check_writes_its_item_alone() -> None:
    done = _bench("bench.sweep", "--targets", "240", "--checks", "4", timeout=300)

    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    swept = re.search(rf"sweep units: +({FIGURE}) write, {FIGURE} read per due target", out)
    assert swept is not None, out
    assert float(swept[1]) < 1  # no write per due target: one for the sweep's window claim
    changed = re.search(rf"changed check: +({FIGURE}) write, {FIGURE} read units per check", out)
    unchanged = re.search(rf"unchanged check: +({FIGURE}) write, {FIGURE} read units per check", out)
    assert changed is not None, out
    assert unchanged is not None, out
    assert float(unchanged[1]) == 1 < float(changed[1])  # the target's item; no index key moves
    again = re.search(rf"an hour on: +({FIGURE}) due again, ({FIGURE}) queued", out)
    assert again is not None, out
    assert int(again[1]) == int(again[2]) + 4  # the first sweep's targets again, but the 4 checked
    refreshed = re.search(rf"day-old result: +({FIGURE}) write, {FIGURE} read units per check", out)
    assert refreshed is not None, out
    assert float(unchanged[1]) < float(refreshed[1]) < float(changed[1])  # the full result again, no transaction


def test_the_logs_benchmark_counts_what_the_checker_handler_writes() -> None:
    done = _bench("bench.logs", "--targets", "6", "--batch", "3", "--teams", "2", timeout=300)

    assert done.returncode == 0, done.stderr[-2000:]
    rows = re.findall(r"(first|unchanged) check +([\d,]+) bytes per check \(([\d,]+) from the handler", done.stdout)
    assert [row[0] for row in rows] == ["first", "unchanged"], done.stdout
    for _, per_check, per_invocation in rows:
        assert int(per_invocation.replace(",", "")) > 0  # the metrics' EMF documents at least
        assert int(per_check.replace(",", "")) > 0


def test_the_cost_model_grows_with_what_it_is_told() -> None:
    from bench.cost import Units, bill, main

    base = Units(1.0, 3.0, 1.5, 2.5, 1.0, 0.1, 6.0, 25, 21.1, 257, 10, 2, team_metrics="on")
    more_teams = dataclasses.replace(base, teams=20)
    assert base.writes == 1.0 + 0.75 * 1.0 + 0.25 * 3.0
    assert base.reads == 0.75 * 1.5 + 0.25 * 2.5  # one check in four reads the history for its daily full result
    assert base.metrics + 50 == more_teams.metrics
    assert bill(100_000, more_teams)["CloudWatch metrics"] - bill(100_000, base)["CloudWatch metrics"] == pytest.approx(
        15.0
    )
    expiry_alone = dataclasses.replace(more_teams, team_metrics="expiry")  # the default: one series a team
    assert more_teams.metrics - expiry_alone.metrics == 20 * 4
    assert bill(100_000, base)["DynamoDB"] == pytest.approx(10 * bill(10_000, base)["DynamoDB"], rel=0.01)
    stage_alone = dataclasses.replace(more_teams, team_metrics="off")
    assert stage_alone.metrics == dataclasses.replace(base, teams=0).metrics  # the teams add no series
    assert main([]) == 0


def test_the_cost_tables_of_the_docs_are_what_the_model_prints() -> None:
    """docs/deploying.md's and bench/README.md's monthly bills, cell for cell, are bench.cost's own table."""
    from bench import cost

    printed = _bench("bench.cost", timeout=60).stdout
    expected = [row.split(" | ")[1:] for row in printed.splitlines() if row.startswith("| ") and "$" in row]
    for doc in ("docs/deploying.md", "bench/README.md"):
        text = (ROOT / doc).read_text()
        start = text.index("| checks a month |")
        rows = [row for row in text[start:].split("\n\n")[0].splitlines() if "$" in row]
        assert [re.findall(r"\$[\d,.]+", row) for row in rows] == [
            re.findall(r"\$[\d,.]+", " | ".join(cells)) for cells in expected
        ], doc
    assert cost.main([]) == 0


def test_the_requests_benchmark_prints_the_clients_cpu_per_kind_of_request() -> None:
    done = _bench("bench.requests", "--requests", "5", "--keys", "3", timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    for kind in ("GetItem", "Query", "UpdateItem", "BatchGetItem of 3"):
        found = re.search(rf"^  {kind} +({FIGURE}) ms$", done.stdout, re.MULTILINE)
        assert found is not None, done.stdout
        assert float(found[1]) > 0


def test_the_poll_loop_benchmark_completes_every_handshake_each_way() -> None:
    done = _bench("bench.pollloop", "--handshakes", "40", "--servers", "2", "--rounds", "1", timeout=180)

    assert done.returncode == 0, done.stderr[-2000:]
    for way in ("threads", "one", "loop", "handed"):
        found = re.search(rf"^  {way} +({FIGURE}) \({FIGURE}-{FIGURE}\); ({FIGURE})x threads'$", done.stdout, re.M)
        assert found is not None, done.stdout
        assert float(found[1]) > 0
    for way in ("engine", "judged"):  # whole checks, the chain judged
        found = re.search(rf"^  {way} +({FIGURE}) \({FIGURE}-{FIGURE}\); ({FIGURE})x the engine's$", done.stdout, re.M)
        assert found is not None, done.stdout
        assert float(found[1]) > 0
