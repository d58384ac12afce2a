"""certwatch's front door: the Chalice routes and event handlers, and nothing else."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib import __version__

app = Chalice(app_name="certwatch")


@app.route("/health", methods=["GET"])
def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}
