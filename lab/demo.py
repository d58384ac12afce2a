"""`make run` until the local stack exists: `certwatch check` over the zoo of loopback endpoints."""

from __future__ import annotations

import sys

from certwatch import cli
from lab.zoo import running_zoo


def main() -> int:
    print("certwatch demo: checking a zoo of TLS endpoints started on 127.0.0.1 (no network needed)\n")
    with running_zoo() as zoo:
        argv = ["check", "--ca-file", zoo.ca_file, "--timeout", "3", *zoo.resolve_args(), *zoo.targets]
        print("$ certwatch check --ca-file DEMO-ROOT.pem --timeout 3 --resolve NAME:127.0.0.1 ... TARGET...\n")
        status = cli.main(argv)
    print(f"\ncertwatch check exited with status {status} (0 ok, 1 warning, 2 critical, 3 unknown).")
    print("Try it on your own endpoints: .venv/bin/certwatch check example.com smtp://mail.example.com")
    return 0


if __name__ == "__main__":
    sys.exit(main())
