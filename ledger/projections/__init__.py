"""Projections: pure functions from sealed events to queryable state.

Nothing here does I/O. The store fetches the documents an event needs
(:func:`ledger.projections.registry.keys_for`), calls
:func:`ledger.projections.registry.project` inside the append transaction and
writes back the :class:`~ledger.projections.base.Effects`.

This package deliberately imports none of its submodules: ``ledger.policy``
builds on :mod:`~ledger.projections.base` and :mod:`~ledger.projections.keys`,
while :mod:`~ledger.projections.registry` builds on ``ledger.policy``, so an
eager import here would make a cycle. Import the submodule you need.
"""

from __future__ import annotations

__all__ = ["base", "edges", "keys", "lineage", "registry", "timeline"]
