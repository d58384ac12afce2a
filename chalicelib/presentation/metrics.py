"""The text of ``GET /metrics``: the series of ``domain.metrics`` in the format the scraper asked for.

prometheus_client writes both formats: OpenMetrics (``application/openmetrics-text``, what
Prometheus asks for first) and the classic text format (``text/plain; version=0.0.4``, for any
other Accept header); ``choose_encoder`` reads the Accept header as the library's own server does.
An info family is OpenMetrics' info type there (its samples named ``<name>_info``) and a gauge of
that name in the classic format, the name Prometheus stores in both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from chalicelib.domain.metrics import FAMILIES, Family, Kind, Sample


@dataclass(frozen=True, slots=True)
class Exposition:
    """What a scrape answers: the text, and the Content-Type naming its format."""

    body: bytes
    content_type: str


class _Series(Collector):
    """The samples as prometheus_client's metric families, in the order of ``FAMILIES``; empty ones left out."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self._by_family: dict[Family, list[Sample]] = {}
        for sample in samples:
            self._by_family.setdefault(sample.family, []).append(sample)

    def collect(self) -> Iterator[Metric]:
        for family in FAMILIES:
            found = self._by_family.get(family)
            if found:
                yield _metric(family, found)


def exposition(samples: Iterable[Sample], accept: str | None) -> Exposition:
    """The samples in the format the Accept header asks for (OpenMetrics when it names it, else the classic text).

    An Accept header whose version the library cannot read gets the classic text, as one naming nothing it
    knows does: a scraper's header is no reason to fail its scrape.
    """
    try:
        encoder, content_type = choose_encoder(accept or "")
    except (TypeError, ValueError):
        encoder, content_type = choose_encoder("")
    return Exposition(encoder(_Series(samples)), content_type)


def _metric(family: Family, samples: list[Sample]) -> Metric:
    names = list(family.label_names)
    if family.kind is Kind.INFO:
        info = InfoMetricFamily(family.name.removesuffix("_info"), family.help, labels=names)
        for sample in samples:
            info.add_metric(list(sample.labels), {})
        return info
    gauge = GaugeMetricFamily(family.name, family.help, labels=names)
    for sample in samples:
        gauge.add_metric(list(sample.labels), sample.value)
    return gauge
