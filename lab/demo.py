"""`make run` until the local stack exists: `certwatch check` over the zoo of loopback endpoints."""

from __future__ import annotations

import shlex
import sys

from certwatch import cli
from lab.zoo import running_zoo


def main() -> int:
    print("certwatch demo: checking a zoo of TLS endpoints started on 127.0.0.1 (no network needed)\n")
    with running_zoo() as zoo:
        argv = ["check", "--ca-file", zoo.ca_file, "--timeout", "3", *zoo.resolve_args(), *zoo.targets]
        print(_command_line(["certwatch", *argv]) + "\n")
        status = cli.main(argv)
    print(f"\ncertwatch check exited with status {status} (0 ok, 1 warning, 2 critical, 3 unknown).")
    print("Try it on your own endpoints: .venv/bin/certwatch check example.com smtp://mail.example.com")
    return 0


def _command_line(argv: list[str], width: int = 100) -> str:
    """``$ argv`` as a shell takes it, in lines of about ``width`` characters (an option beside its value)."""
    words = [shlex.quote(arg) for arg in argv]
    units: list[str] = []
    for word in words:
        if units and units[-1].startswith("--") and " " not in units[-1]:
            units[-1] += " " + word
        else:
            units.append(word)
    lines = ["$"]
    for unit in units:
        if len(lines[-1]) + 1 + len(unit) > width:
            lines.append("   ")
        lines[-1] += " " + unit
    return " \\\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
