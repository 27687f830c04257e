"""Rollout Ledger: an event-sourced, hash-chained, append-only audit ledger for ML rollouts."""

from __future__ import annotations

from ledger.errors import LedgerError
from ledger.events import Event, EventDraft

__all__ = ["Event", "EventDraft", "LedgerError"]
