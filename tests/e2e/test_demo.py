"""`make demo`: the command it prints is the one it runs, real CA file included."""

from __future__ import annotations

import shlex

import pytest

from lab import demo

pytestmark = pytest.mark.slow


def test_the_demo_prints_the_very_command_it_runs_with_the_real_ca_file(capsys: pytest.CaptureFixture[str]) -> None:
    status = demo.main()

    out = capsys.readouterr().out
    shown = out.split("$ ", 1)[1].split("\n\n", 1)[0]
    argv = shlex.split(shown.replace("\\\n", " "))
    assert status == 0
    assert argv[:3] == ["certwatch", "check", "--ca-file"]
    assert argv[3].endswith(".pem")
    assert "certwatch-zoo-" in argv[3]
    assert "DEMO-ROOT" not in out
    assert argv.count("--resolve") == len([a for a in argv if "://" in a]) == 10
    assert "EXPIRING_SOON" in out  # what that command found
    assert "exited with status 2" in out
