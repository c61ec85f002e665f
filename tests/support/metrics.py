"""Scrape a Prometheus endpoint into ``{(name, labels): value}`` for exact assertions."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, timeout: float = 5.0) -> Samples:
    """``url`` is the endpoint's base (``http://host:port``); reads ``/metrics``."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as response:
        text = response.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name{labels}``; KeyError naming it if absent."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        known = sorted({str(dict(lbl)) for n, lbl in samples if n == name})
        raise KeyError(f"no sample {name}{labels}; present: {known[:20]}")
    return samples[key]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of every ``name`` sample whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and want <= lbl)
