"""Review of the group committer's hand-offs: shutdown races, the lock file, the linger bound."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from ledger.api import committer as committer_module
from ledger.api.committer import GroupCommitter
from ledger.api.settings import Settings
from ledger.errors import StoreError
from ledger.service import Appended, Ledger
from ledger.store import open_store
from tests.api.conftest import Headers, TestClient, make_event
from tests.helpers import draft

ID = "0b7fe41a-8f7d-4b8e-9a53-0d8b1f7c7a11"


def test_a_hand_off_racing_close_is_answered_not_left_hanging(ledger: Ledger) -> None:
    """``close`` amid a hand-off (after its closed-check): the request still gets an outcome."""
    committer = GroupCommitter(ledger, linger=0)
    committer.submit([draft(0)], "ci").result(timeout=5)  # the writer thread runs
    ensure = committer._ensure_thread

    closer = threading.Thread(target=committer.close)

    def close_meanwhile() -> None:
        ensure()
        closer.start()
        closer.join(timeout=0.2)  # unguarded, the writer reads the stop sentinel and exits

    committer._ensure_thread = close_meanwhile  # type: ignore[method-assign]
    try:
        future = committer.submit([draft(1)], "ci")
    except RuntimeError:
        return  # refused at once: also an answer
    try:
        outcome: object = future.result(timeout=5)
    except RuntimeError as exc:
        outcome = exc
    except TimeoutError:
        pytest.fail("a request handed over while the committer closed was never answered")
    closer.join(timeout=5)
    if isinstance(outcome, list):  # committed: then it is in the ledger
        assert ledger.head().seq == 2


def test_the_lock_file_is_beside_the_database_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "data")
    store = open_store("ledger.db")
    try:
        ledger = Ledger(store)
        committer = GroupCommitter(ledger)
        monkeypatch.chdir(tmp_path / "elsewhere")  # e.g. a daemon's chdir("/")
        committer.submit([draft(0)], "ci").result(timeout=5)
        committer.close()
    finally:
        store.close()
    assert (tmp_path / "data" / "ledger.db-commit-lock").exists()
    assert not (tmp_path / "elsewhere" / "ledger.db-commit-lock").exists()


def test_the_committer_imports_and_commits_without_fcntl(tmp_path: Path) -> None:
    """Windows has no ``fcntl``: the API still runs (SQLite's own lock serializes writers)."""
    script = (
        "import sys; sys.modules['fcntl'] = None\n"
        "from ledger.api.committer import GroupCommitter\n"
        "from ledger.service import Ledger\n"
        "from ledger.store import open_store\n"
        "from tests.helpers import draft\n"
        f"store = open_store({str(tmp_path / 'w.db')!r})\n"
        "c = GroupCommitter(Ledger(store))\n"
        "print(c.submit([draft(0)], 'ci').result(timeout=5)[0].seq)\n"
        "c.close(); store.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert not (tmp_path / "w.db-commit-lock").exists()


def test_a_retry_in_the_same_group_as_its_original_is_acknowledged_with_its_seq(
    ledger: Ledger,
) -> None:
    committer = GroupCommitter(ledger, linger=0)
    counted: list[bool] = []

    async def scenario() -> list[list[Appended]]:
        hook = lambda acks: counted.append(acks[0].created)  # noqa: E731
        original = committer.submit_async([draft(1, id=ID)], "ci", on_commit=hook)
        retry = committer.submit_async([draft(1, id=ID)], "ci", on_commit=hook)
        return list(await asyncio.gather(original, retry))

    original, retry = asyncio.run(scenario())
    committer.close()
    assert original[0].created
    assert not retry[0].created
    assert original[0].seq == retry[0].seq == 1
    assert counted == [True, False]
    assert ledger.head().seq == 1


def test_a_failed_group_answers_every_request_with_a_json_error_and_the_server_recovers(
    client: TestClient, headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = client.app.state.api  # type: ignore[attr-defined]
    ledger = state.committer._ledger
    real = ledger.append_group
    failures = iter([StoreError("disk full"), OSError(28, "No space left on device")])

    def failing(requests: object) -> object:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(requests)

    monkeypatch.setattr(ledger, "append_group", failing)
    first = client.post("/v1/events", json=[make_event(1)], headers=headers("pipeline"))
    assert first.status_code == 503
    assert first.json()["error"]["code"]
    lenient = TestClient(client.app, raise_server_exceptions=False)  # as a real server answers
    second = lenient.post("/v1/events", json=[make_event(2)], headers=headers("pipeline"))
    assert second.status_code == 500
    assert second.json()["error"]["code"] == "internal_error"
    third = client.post("/v1/events", json=[make_event(3)], headers=headers("pipeline"))
    assert third.status_code == 200, third.text
    assert third.json()["events"][0]["seq"] == 1
    assert ledger.verify().ok


def test_the_linger_is_bounded_even_when_configured_large(ledger: Ledger) -> None:
    """A linger set in the wrong unit (``LEDGER_COMMIT_LINGER=1``: one second) is refused."""
    with pytest.raises(ValueError, match="LEDGER_COMMIT_LINGER"):
        Settings.from_env({"LEDGER_COMMIT_LINGER": "1"})
    assert Settings.from_env({"LEDGER_COMMIT_LINGER": "0.0005"}).commit_linger == 0.0005
    committer = GroupCommitter(ledger, linger=5.0)
    assert committer._linger <= committer_module.MAX_LINGER
    committer.close()


def test_no_lock_file_for_a_database_in_a_read_only_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock file cannot be made (a read-only directory; root would write
    anyway, so the refusal is simulated): appends go on, SQLite keeping turns."""
    real_open = os.open

    def refusing(path: str, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("-commit-lock"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(committer_module.os, "open", refusing)
    store = open_store(str(tmp_path / "ro.db"))
    try:
        ledger = Ledger(store)
        ledger.append([draft(0)], "ci")
        committer = GroupCommitter(ledger)
        assert committer.submit([draft(1)], "ci").result(timeout=5)[0].seq == 2
        committer.close()
    finally:
        store.close()
    assert not (tmp_path / "ro.db-commit-lock").exists()


def test_an_id_repeated_in_one_batch_is_counted_once(client: TestClient, headers: Headers) -> None:
    event = make_event(4, id=ID)
    response = client.post("/v1/events", json=[event, event], headers=headers("pipeline"))
    assert response.status_code == 200, response.text
    acks = response.json()["events"]
    assert acks[0]["seq"] == acks[1]["seq"] == 1
    metrics = client.get("/metrics", headers=headers("auditor")).text
    assert 'ledger_appends_total{type="test.result.recorded"} 1.0' in metrics
