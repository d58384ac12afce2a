"""scripts/find-python: which interpreter each venv is built with, and one line when it is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "find-python"


def _machine(tmp_path: Path, installed: list[str]) -> dict[str, str]:
    """A PATH holding only a pyenv whose versions are ``installed`` (each a python that runs)."""
    root = tmp_path / "pyenv"
    for version in installed:
        python = root / "versions" / version / "bin" / f"python{version.rsplit('.', 1)[0]}"
        python.parent.mkdir(parents=True)
        python.write_text("#!/bin/sh\nexit 0\n")
        python.chmod(0o755)
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "pyenv").write_text(f"#!/bin/sh\necho {root}\n")
    (tools / "pyenv").chmod(0o755)
    return {"PATH": str(tools)}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("installed", "args", "picked"),
    [
        (["3.12.1", "3.13.0"], [], "3.13.0"),
        (["3.12.1"], [], "3.12.1"),
        (["3.12.1", "3.13.0"], ["3.12"], "3.12.1"),
        (["3.12.1", "3.13.0"], ["3.13"], "3.13.0"),
    ],
)
def test_picks_the_version_asked_for(tmp_path: Path, installed: list[str], args: list[str], picked: str) -> None:
    done = _run(_machine(tmp_path, installed), *args)

    assert done.returncode == 0, done.stderr
    assert f"/versions/{picked}/bin/" in done.stdout


@pytest.mark.parametrize("missing", ["3.12", "3.13"])
def test_a_missing_version_is_one_line_naming_it(tmp_path: Path, missing: str) -> None:
    other = "3.13.0" if missing == "3.12" else "3.12.1"

    done = _run(_machine(tmp_path, [other]), missing)

    assert done.returncode == 1
    assert done.stdout == ""
    line = f"python{missing} is missing: install Python {missing} (e.g. pyenv install {missing})"
    assert done.stderr.splitlines() == [line]


def test_an_unsupported_version_is_refused(tmp_path: Path) -> None:
    done = _run(_machine(tmp_path, ["3.11.7"]), "3.11")

    assert done.returncode == 2
    assert done.stderr.splitlines() == ["scripts/find-python: PYTHON_VERSION must be 3.13 or 3.12, not '3.11'"]
