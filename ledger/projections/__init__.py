"""Projections: pure functions from sealed events to queryable state.

Nothing here does I/O. The store fetches the documents an event needs
(:func:`ledger.projections.registry.keys_for`), calls
:func:`ledger.projections.registry.project` inside the append transaction and
writes back the :class:`~ledger.projections.base.Effects`.

Layers, bottom up: ``base``, ``subjects``, ``keys`` and the private helpers;
``test_results``, ``rules`` (policy definitions) and ``edges``;
``requirements`` and the registry handlers; then ``registry``, ``lineage``
and ``timeline``. ``ledger.policy``
sits on ``rules`` and ``requirements``. This package imports none of its
submodules, so importing one never drags in the rest: import what you need.
"""

from __future__ import annotations

__all__ = [
    "base",
    "edges",
    "keys",
    "lineage",
    "registry",
    "requirements",
    "rules",
    "subjects",
    "test_results",
    "timeline",
]
