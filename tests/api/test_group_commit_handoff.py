"""Group commit hand-offs: one per loop iteration, lingering under load, one writer per file."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from ledger.api import committer as committer_module
from ledger.api.committer import GroupCommitter, _Pending
from ledger.api.settings import Settings
from ledger.errors import Conflict
from ledger.service import Appended, Ledger
from ledger.store import open_store
from tests.helpers import draft

ID = "6f1f2c8e-8f7d-4b8e-9a53-0d8b1f7c7a11"


def test_the_requests_of_one_loop_iteration_reach_the_writer_as_one_item(
    ledger: Ledger,
) -> None:
    committer = GroupCommitter(ledger, linger=0)
    handed: list[int] = []
    put = committer._put

    def counting_put(items: list[_Pending]) -> None:
        handed.append(len(items))
        put(items)

    committer._put = counting_put  # type: ignore[method-assign]

    async def scenario() -> list[list[Appended]]:
        first = [committer.submit_async([draft(n)], "ci") for n in range(10)]
        assert handed == []  # queued on the loop until the iteration's other work is done
        await asyncio.sleep(0)
        second = [committer.submit_async([draft(n)], "ci") for n in range(10, 13)]
        return await asyncio.gather(*first, *second)

    acks = asyncio.run(scenario())
    committer.close()
    assert handed == [10, 3]
    assert sorted(a[0].seq for a in acks) == list(range(1, 14))
    assert ledger.verify().ok


def test_on_commit_runs_for_a_waiter_gone_away_and_not_for_a_refused_request(
    ledger: Ledger,
) -> None:
    ledger.append([draft(0, id=ID)], "ci")
    committer = GroupCommitter(ledger)
    committed: list[int] = []

    async def scenario() -> tuple[object, ...]:
        with ledger.store.transaction():  # the group waits until all are queued
            gone = committer.submit_async(
                [draft(1)], "ci", on_commit=lambda acks: committed.append(acks[0].seq)
            )
            refused = committer.submit_async(
                [draft(2), draft(3, id=ID)], "ci", on_commit=lambda acks: committed.append(-1)
            )
            kept = committer.submit_async(
                [draft(4)], "ci", on_commit=lambda acks: committed.append(acks[0].seq)
            )
            await asyncio.sleep(0.05)
            gone.cancel()
        return tuple(await asyncio.gather(gone, refused, kept, return_exceptions=True))

    gone, refused, kept = asyncio.run(scenario())
    committer.close()
    assert isinstance(gone, asyncio.CancelledError)
    assert isinstance(refused, Conflict)  # fails alone: the others of its group commit
    assert isinstance(kept, list)
    assert kept[0].seq == 3
    assert committed == [2, 3]  # the cancelled request's event is committed and counted
    assert ledger.head().seq == 3
    assert ledger.verify().ok


def test_a_failing_on_commit_hook_costs_no_other_request_its_answer(ledger: Ledger) -> None:
    committer = GroupCommitter(ledger)

    def broken(acks: list[Appended]) -> None:
        raise RuntimeError("boom")

    async def scenario() -> list[list[Appended]]:
        return await asyncio.gather(
            committer.submit_async([draft(1)], "ci", on_commit=broken),
            committer.submit_async([draft(2)], "ci"),
        )

    acks = asyncio.run(scenario())
    committer.close()
    assert [a[0].seq for a in acks] == [1, 2]


def test_a_hand_off_over_max_events_is_split_into_groups(ledger: Ledger) -> None:
    committer = GroupCommitter(ledger, max_events=5, linger=0)

    async def scenario() -> list[list[Appended]]:
        with ledger.store.transaction():  # all twelve are one queued item meanwhile
            waiters = [committer.submit_async([draft(n)], "ci") for n in range(12)]
            await asyncio.sleep(0.05)
        return await asyncio.gather(*waiters)

    acks = asyncio.run(scenario())
    committer.close()
    assert [a[0].seq for a in acks] == list(range(1, 13))  # in order, across groups
    assert committer.requests == 12
    assert committer.commits == 3  # 5 + 5 + 2


def test_the_writer_lingers_under_load_and_commits_at_once_when_idle(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    committer = GroupCommitter(ledger, linger=0.001)
    slept: list[float] = []
    late: list[list[_Pending]] = []
    sleep = committer_module._sleep

    def arriving_sleep(seconds: float) -> None:
        # While the writer lingers, the rest of a burst reaches the queue.
        slept.append(seconds)
        if late:
            committer._queue.put(late.pop())
        sleep(0)

    monkeypatch.setattr(committer_module, "_sleep", arriving_sleep)
    monkeypatch.setattr(committer_module, "_LOAD_WINDOW", 60.0)  # however slow this machine

    # Idle (nothing committed yet): a lone request is committed at once.
    committer.submit([draft(0)], "ci").result(timeout=30)
    assert slept == []

    # Under load (the last commit held several requests, just now): linger.
    committer._last_group = 5
    committer._last_end = committer_module.time.monotonic()
    burst = [_Pending([draft(n)], "ci", future=None) for n in range(1, 4)]
    futures = []
    for pending in burst:
        pending.future = committer_module.Future()
        futures.append(pending.future)
    late.append(burst[1:])
    committer._put(burst[:1])
    assert [f.result(timeout=30)[0].seq for f in futures] == [2, 3, 4]
    assert slept == [0.001, 0.001]  # the second linger brought nothing: commit
    assert committer.commits == 2  # the whole burst in one commit
    committer.close()


def test_commit_linger_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().commit_linger == pytest.approx(0.0002)
    assert Settings.from_env({"LEDGER_COMMIT_LINGER": "0"}).commit_linger == 0.0
    assert Settings.from_env({"LEDGER_COMMIT_LINGER": "0.001"}).commit_linger == 0.001
    with pytest.raises(ValueError, match="LEDGER_COMMIT_LINGER"):
        Settings.from_env({"LEDGER_COMMIT_LINGER": "soon"})


def test_committers_of_several_processes_on_one_file_take_turns(db_path: Path) -> None:
    """Two API workers on one SQLite file: a lock file beside it, no starving writer."""
    stores = [open_store(str(db_path)) for _ in range(2)]
    ledgers = [Ledger(s) for s in stores]  # distinct ids: uuid7, not a shared id_factory
    committers = [GroupCommitter(led) for led in ledgers]
    acks: list[int] = []
    guard = threading.Lock()

    def client(k: int) -> None:
        for n in range(25):
            result = committers[k % 2].submit([draft(100 * k + n)], f"c{k}").result(timeout=60)
            with guard:
                acks.append(result[0].seq)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert os.path.exists(f"{db_path}-commit-lock")
    for committer in committers:
        committer.close()
    assert sorted(acks) == list(range(1, 101))
    assert ledgers[0].verify().ok
    for store in stores:
        store.close()
