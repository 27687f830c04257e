"""A real ``rollout-ledger serve`` (uvicorn) in a child process, for tests that need one.

:func:`serve` picks a free port, starts the server over a given ledger, waits
until ``/healthz`` answers (failing the test, with the tail of the server's
output, if it exits or does not answer in time), yields its URL and stops it
on the way out: terminate, wait, and kill if it does not stop in time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

STARTUP_S = 30.0
"""How long a server may take to answer ``/healthz``."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ledger_command(*args: str) -> list[str]:
    """``rollout-ledger *args`` as a child process of this interpreter."""
    return [sys.executable, "-m", "ledger", *args]


@contextmanager
def serve(
    db: str | Path,
    *serve_args: str,
    key_dir: Path | None = None,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    stop_timeout: float = 15.0,
) -> Iterator[str]:
    """Run ``serve`` over ``db`` on a free port; yield its URL once ``/healthz`` answers.

    ``serve_args`` go after ``serve`` (``--workers 3``, ``--anonymous-reads``…);
    ``key_dir`` is passed as ``--key-dir``. The server's stdout and stderr go to
    ``log`` (default: next to a file ``db``, named after the port); ``env`` is
    added to this process's environment.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if log is None:
        log = Path(db).with_suffix(f".{port}.log")
    ledger_args = ["--db", str(db)]
    if key_dir is not None:
        ledger_args += ["--key-dir", str(key_dir)]
    command = ledger_command(*ledger_args, "serve", "--host", "127.0.0.1", "--port", str(port))
    command += ["--log-level", "warning"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, *serve_args],
            stdout=sink,
            stderr=sink,
            env=None if env is None else {**os.environ, **env},
        )
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        _stop(process, stop_timeout)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"serve exited early with status {process.returncode}; "
                f"its output ({log}):\n{_tail(log)}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"serve did not answer {url}/healthz within {STARTUP_S:g} s; "
                f"its output ({log}):\n{_tail(log)}"
            )
        time.sleep(0.1)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
