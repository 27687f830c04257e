"""Group commit: concurrent requests share one durable transaction, and fail alone."""

from __future__ import annotations

import asyncio

import pytest

from ledger.api.committer import GroupCommitter
from ledger.errors import Conflict
from ledger.service import Appended, Ledger
from tests.helpers import draft

ID = "6f1f2c8e-8f7d-4b8e-9a53-0d8b1f7c7a11"


def test_requests_queued_during_a_commit_share_the_next_one(ledger: Ledger) -> None:
    committer = GroupCommitter(ledger)
    # Hold the write lock so requests pile up behind the first, as they do
    # while a real commit waits for fsync.
    with ledger.store.transaction():
        futures = [committer.submit([draft(n)], f"client-{n % 4}") for n in range(50)]
    acks = [f.result(timeout=30)[0] for f in futures]
    committer.close()
    assert sorted(a.seq for a in acks) == list(range(1, 51))
    assert committer.requests == 50
    assert committer.commits <= 2
    assert ledger.verify().ok


def test_a_refused_request_fails_alone_and_the_rest_of_its_group_commits(
    ledger: Ledger,
) -> None:
    ledger.append([draft(0, id=ID)], "ci")
    committer = GroupCommitter(ledger)
    with ledger.store.transaction():
        good = [committer.submit([draft(n), draft(n + 100)], "ci") for n in range(1, 6)]
        bad = committer.submit([draft(7), draft(99, id=ID)], "ci")
        late = committer.submit([draft(8)], "ci")
    results = [f.result(timeout=30) for f in good]
    with pytest.raises(Conflict):
        bad.result(timeout=30)
    assert late.result(timeout=30)[0].seq == 12
    committer.close()
    assert [len(r) for r in results] == [2] * 5
    assert ledger.head().seq == 12
    assert ledger.verify().ok
    # The refused request's projected effects were undone: the stored
    # projections equal a rebuild from the committed events alone.
    # Test results are rows (``tests:<version>``), not documents, and enter a
    # version's history; the refused request touched versions 1.0.0 and 1.1.0.
    store = ledger.store
    versions = [f"model:fraud-detector@1.{k}.0" for k in range(7)]

    def projected() -> tuple[object, ...]:
        return (
            store.docs_with_prefix("", 10_000),
            store.get_docs([f"tests:{v}" for v in versions]),
            [store.history_of(v) for v in versions],
            store.status_intervals(),
        )

    incremental = projected()
    ledger.rebuild_projections()
    assert projected() == incremental
    assert incremental[1], "the test results were projected"


def test_a_retry_within_one_group_is_acknowledged_with_the_same_seq(ledger: Ledger) -> None:
    committer = GroupCommitter(ledger)
    with ledger.store.transaction():
        first = committer.submit([draft(1, id=ID)], "ci")
        again = committer.submit([draft(1, id=ID)], "ci")
    (original,), (retried,) = first.result(timeout=30), again.result(timeout=30)
    # The same seq, hash and id; created once (the retry, as any retry: not created).
    assert retried == Appended(original.seq, original.hash, original.id, False)
    assert original.created
    committer.close()
    assert ledger.head().seq == 1


def test_asyncio_waiters_are_acknowledged_after_their_commit_and_may_go_away(
    ledger: Ledger,
) -> None:
    committer = GroupCommitter(ledger)

    async def scenario() -> list[int]:
        waiters = [committer.submit_async([draft(n)], "ci") for n in range(20)]
        waiters[3].cancel()  # a client that disconnected: its event is committed anyway
        conflict = committer.submit_async([draft(99, id=ID), draft(98, id=ID)], "ci")
        with pytest.raises(Conflict):
            await conflict
        done = await asyncio.gather(*waiters, return_exceptions=True)
        assert isinstance(done[3], asyncio.CancelledError)
        return [acks[0].seq for acks in done if isinstance(acks, list)]

    seqs = asyncio.run(scenario())
    later = committer.submit([draft(50)], "ci").result(timeout=30)  # the writer still runs
    committer.close()
    assert len(seqs) == 19
    assert later[0].seq == 21
    assert ledger.head().seq == 21
    assert ledger.verify().ok


def test_a_request_cancelled_before_its_commit_is_still_counted_and_announced(
    ledger: Ledger,
) -> None:
    """A client that hangs up does not un-append its events: subscribers must hear of them."""
    from collections import Counter
    from types import SimpleNamespace

    from ledger.api.auth import Principal
    from ledger.api.ingest import _commit

    notified: list[int] = []
    counted: Counter[str] = Counter()

    def appended(event_type: str, n: int) -> None:
        counted[event_type] += n

    committer = GroupCommitter(ledger)
    state = SimpleNamespace(
        committer=committer,
        metrics=SimpleNamespace(appended=appended),
        feed=SimpleNamespace(notify=lambda: notified.append(1)),
    )

    async def scenario() -> None:
        with ledger.store.transaction():  # the commit waits until the request has gone
            task = asyncio.create_task(
                _commit(state, Principal("ci", "pipeline"), [draft(1), draft(2)])  # type: ignore[arg-type]
            )
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        for _ in range(200):
            if notified:
                break
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    committer.close()
    assert ledger.head().seq == 2
    assert notified == [1]
    assert counted == {"test.result.recorded": 2}
