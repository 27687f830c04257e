"""The chapters of the ``rollout-ledger demo`` story; :mod:`ledger.demo` is the public face.

One module per model (plus the onboarding that precedes them), each a pure
function from the story's start time to its :class:`~ledger._demo.base.Step`
list. Nothing here reads a clock, a file or the store.
"""

from __future__ import annotations

__all__: list[str] = []
