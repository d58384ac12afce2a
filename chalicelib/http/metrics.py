"""``GET /metrics`` at the edge: which format and encoding to answer in, as API Gateway can carry them.

API Gateway passes a body through as binary (here: gzip, or OpenMetrics' bytes) only when the
*first* media type of the request's Accept header is one of the API's binary media types, and sends
the base64 text of it otherwise. So OpenMetrics is answered when the Accept header names it first,
as Prometheus' does (``application/openmetrics-text`` is a binary media type of the API), and gzip
only then (when Accept-Encoding allows it); any other Accept header gets the classic text format,
uncompressed, as text.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from typing import TYPE_CHECKING

from chalice.app import Request, Response

if TYPE_CHECKING:
    from chalicelib.domain.metrics import Watched

OPENMETRICS = "application/openmetrics-text"


def response(request: Request, watched: Iterable[Watched]) -> Response:
    """The scrape's answer: the series of ``watched`` in the negotiated format, gzipped when that may be."""
    # Imported here: app.py imports this module, and no other route loads the series or the library.
    from prometheus_client.exposition import gzip_accepted

    from chalicelib.domain.metrics import samples
    from chalicelib.presentation.metrics import exposition

    headers = request.headers
    answer = exposition(samples(watched), negotiated(headers.get("accept")))
    sent: dict[str, str | list[str]] = {"Content-Type": answer.content_type, "Vary": "Accept, Accept-Encoding"}
    if not is_binary(answer.content_type):
        return Response(body=answer.body.decode(), status_code=200, headers=sent)
    if gzip_accepted(headers.get("accept-encoding") or ""):
        sent["Content-Encoding"] = "gzip"
        return Response(body=gzip.compress(answer.body), status_code=200, headers=sent)
    return Response(body=answer.body, status_code=200, headers=sent)


def negotiated(accept: str | None) -> str:
    """The Accept header given to prometheus_client: its first item when that names OpenMetrics, else the rest."""
    items = [item for item in (accept or "").split(",") if item.strip()]
    if items and _media(items[0]) == OPENMETRICS:
        return items[0]
    return ",".join(item for item in items if _media(item) != OPENMETRICS)


def is_binary(content_type: str) -> bool:
    """Whether an answer of this Content-Type travels as binary (``app.api.binary_types`` names OpenMetrics)."""
    return _media(content_type) == OPENMETRICS


def _media(item: str) -> str:
    return item.split(";")[0].strip().lower()
