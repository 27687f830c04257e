"""Helpers shared by tests: a fixed clock, id factories, realistic drafts and the CLI in-process."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.events import EventDraft

if TYPE_CHECKING:
    from click.testing import Result


class StepClock:
    """A deterministic clock: each call is one millisecond after the previous."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def id_factory() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=next(counter)))


def draft(n: int = 0, **overrides: object) -> EventDraft:
    """A realistic test.result.recorded draft, varied by ``n``."""
    fields: dict[str, object] = {
        "type": "test.result.recorded",
        "subject": f"model:fraud-detector@1.{n % 7}.0",
        "data": {
            "suite": "offline-eval",
            "kind": "evaluation",
            "metrics": {"auc": 0.9 + (n % 10) / 1000, "latency_p99_ms": 40 + n % 5},
            "passed": n % 3 != 0,
            "n": n,
        },
    }
    fields.update(overrides)
    return EventDraft.create(
        fields["type"],  # type: ignore[arg-type]
        fields["subject"],  # type: ignore[arg-type]
        fields["data"],
        id=fields.get("id"),  # type: ignore[arg-type]
        occurred_at=fields.get("occurred_at"),  # type: ignore[arg-type]
    )


def run(*args: str | Path) -> Result:
    """``rollout-ledger *args`` in-process; stdout and stderr kept apart."""
    # Imported here: the CLI is slow to import, and store tests' child processes use this module.
    from click.testing import CliRunner

    from ledger.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: str | Path) -> Result:
    """:func:`run`, asserting that the command succeeded (its stderr if not)."""
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    return result


def open_files_under(path: Path) -> list[str]:
    """The files at or under ``path`` this process holds open (Linux /proc)."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith(str(path)):
            held.append(target)
    return held
