"""``GET /cbom`` at the edge: the CycloneDX 1.6 document of what the stored results saw, as JSON to download."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from chalice.app import Response

if TYPE_CHECKING:
    from chalicelib.services.cbom import CbomSources

FILENAME = "certwatch-cbom.json"


def response(sources: CbomSources, now: datetime, version: str) -> Response:
    """The CBOM of ``sources`` at ``now``, named for a download."""
    # Imported here: app.py imports this module, and no other route loads CycloneDX's library.
    from chalicelib.presentation.cbom import MEDIA_TYPE, cbom_json, observed

    body = cbom_json(observed(sources.watched), sources.managed, now=now, version=version)
    headers: dict[str, str | list[str]] = {
        "Content-Type": MEDIA_TYPE,
        "Content-Disposition": f'attachment; filename="{FILENAME}"',
    }
    return Response(body=body, status_code=200, headers=headers)
