"""kill -9 mid-append: nothing acknowledged is lost and no batch is half written.

A child process (tests/store/_crash_child.py) appends single events and batches
of up to 50 in a loop on one SQLite file, fsyncing each acknowledgement to a side
file, and is killed with SIGKILL at a random moment; six rounds run on the same
file. The kill moments are the only randomness: they come from a seed printed
at the start (shown on failure) and replayable with LEDGER_CRASH_SEED=<seed>.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger.store import open_store
from tests.store._ledger_checks import assert_whole_ledger

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 6
Ack = tuple[int, str, str]


def run_and_kill(db_path: Path, side_file: Path, seed: str, delay: float, errors: Path) -> None:
    """Start the appender, wait until it is appending, SIGKILL it ``delay`` s later."""
    with errors.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.store._crash_child", str(db_path), str(side_file), seed],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            assert child.stdout is not None
            ready = child.stdout.readline()
            assert ready == b"ready\n", errors.read_text()
            time.sleep(delay)  # the random kill moment, not a synchronization
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
    assert child.returncode == -signal.SIGKILL, errors.read_text()


def read_side_file(side_file: Path) -> tuple[list[list[str]], list[list[Ack]]]:
    """The batches the child meant to append, and those it had acknowledged.

    A line the kill cut short (no newline yet) was never fully logged: ignored.
    """
    intents: list[list[str]] = []
    acked: list[list[Ack]] = []
    text = side_file.read_text() if side_file.exists() else ""
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        record = json.loads(line)
        if "intent" in record:
            intents.append(record["intent"])
        else:
            batch = [(int(seq), str(h), str(i)) for seq, h, i in record["acked"]]
            assert [i for _, _, i in batch] == intents[-1], "an ack for a batch never announced"
            acked.append(batch)
    return intents, acked


def assert_nothing_lost_nothing_torn(
    db_path: Path, intents: list[list[str]], acked: list[list[Ack]]
) -> int:
    """Check the ledger after a kill; return how many events it holds."""
    events = assert_whole_ledger(db_path)  # gapless seqs, chain and every Merkle node
    stored = {e.id: (e.seq, e.hash) for e in events}
    for batch in acked:
        for seq, hash_, id_ in batch:
            assert stored.get(id_) == (seq, hash_), f"acknowledged event {id_} (seq {seq}) lost"
    for ids in intents:
        present = [stored[i][0] for i in ids if i in stored]
        assert len(present) in (0, len(ids)), f"a batch of {len(ids)} is {len(present)} stored"
        if present:
            assert present == list(range(present[0], present[0] + len(ids)))
    announced = {i for ids in intents for i in ids}
    assert set(stored) <= announced, "the ledger holds events no one appended"
    return len(events)


def test_acknowledged_events_survive_sigkill_and_no_batch_is_half_written(
    db_path: Path, tmp_path: Path
) -> None:
    seed = int(os.environ.get("LEDGER_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash test seed {seed}: replay with LEDGER_CRASH_SEED={seed}")
    rng = random.Random(seed)
    open_store(db_path).close()
    intents: list[list[str]] = []
    acked: list[list[Ack]] = []
    sizes: list[int] = []
    for round_ in range(ROUNDS):
        side_file = tmp_path / f"acks-{round_}.jsonl"
        delay = rng.uniform(0.05, 0.4)
        run_and_kill(
            db_path, side_file, f"{seed}:{round_}", delay, tmp_path / f"child-{round_}.err"
        )
        round_intents, round_acked = read_side_file(side_file)
        intents += round_intents
        acked += round_acked
        sizes.append(assert_nothing_lost_nothing_torn(db_path, intents, acked))
        in_flight = len(round_intents) > len(round_acked)
        print(
            f"round {round_}: killed after {delay * 1000:.0f} ms, {len(round_acked)} batches "
            f"acknowledged, {sizes[-1]} events stored, a batch in flight: {in_flight}"
        )
    assert acked, "no append was acknowledged in any round"
    assert sizes == sorted(sizes), "a round lost events"
    assert sizes[-1] > sizes[0], "later rounds did not go on appending to the same ledger"
