"""The process the crash test kills: appends forever, logging every acknowledgement.

Run as ``python -m tests.store._crash_child DB SIDE_FILE SEED``. Prints ``ready``
once the store is open, then loops: pick a batch (single events and batches of
up to 50, every event with a client id), write its ids to the side file as an
``intent`` line, append it, and write the acknowledged (seq, hash, id) of each
event as an ``acked`` line. Each line is flushed and fsynced before the loop
moves on, so the side file never claims more than the ledger acknowledged.
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid

from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import draft


def log(fd: int, record: dict[str, object]) -> None:
    os.write(fd, json.dumps(record).encode() + b"\n")
    os.fsync(fd)


def main(db: str, side_file: str, seed: str) -> None:
    rng = random.Random(seed)
    store = open_store(db)
    ledger = Ledger(store)
    fd = os.open(side_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    print("ready", flush=True)
    n = 0
    while True:
        size = 1 if rng.random() < 0.4 else rng.randint(2, 50)
        ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(size)]
        log(fd, {"intent": ids})
        acks = ledger.append([draft(n + i, id=ids[i]) for i in range(size)], "crash-test")
        log(fd, {"acked": [[a.seq, a.hash, a.id] for a in acks]})
        n += size


if __name__ == "__main__":
    main(*sys.argv[1:4])
