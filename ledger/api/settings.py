"""Server settings: plain values, read from the environment by the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MAX_PAGE_SIZE", "Settings"]

MAX_PAGE_SIZE = 100
"""Largest ``first`` a connection accepts (DESIGN.md: page size is bounded)."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    text = environ.get(name)
    if text is None:
        return default
    if text.strip().lower() in _TRUE:
        return True
    if text.strip().lower() in _FALSE:
        return False
    raise ValueError(f"{name}: expected true or false, got {text!r}")


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {text!r}") from None
    if value <= 0:
        raise ValueError(f"{name}: must be positive, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """How the HTTP and GraphQL server behaves.

    Attributes:
        anonymous_reads: let requests without a token read (queries, proofs,
            checkpoints, metrics); appends always need a token.
        max_body_bytes: largest request body; bigger ones get 413.
        poll_interval: seconds between checks of the store head for events
            appended by other processes (subscriptions).
        max_query_depth: deepest GraphQL selection nesting.
        max_query_tokens: most lexical tokens in one GraphQL document.
        max_aliases: most aliased fields in one GraphQL document.
        max_fields: most field selections in one GraphQL document, fragments
            expanded; with ``first`` at most 100 this bounds the nodes per query.
        graphiql: serve GraphiQL on ``GET /graphql`` to browsers.
        checkpoint_interval: seconds between signed checkpoints published (and
            stored) while the ledger grows; 0 turns publishing off.
        commit_linger: seconds the group committer waits under load for more
            requests before it commits (``ledger.api.committer``); 0: never.
    """

    anonymous_reads: bool = False
    max_body_bytes: int = 8 * 1024 * 1024
    poll_interval: float = 0.2
    max_query_depth: int = 12
    max_query_tokens: int = 4000
    max_aliases: int = 30
    max_fields: int = 500
    graphiql: bool = True
    checkpoint_interval: float = 60.0
    commit_linger: float = 0.0002

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read ``LEDGER_ANONYMOUS_READS``, ``LEDGER_MAX_BODY_BYTES``, ``LEDGER_POLL_INTERVAL``,
        ``LEDGER_GRAPHIQL``, ``LEDGER_CHECKPOINT_INTERVAL`` and ``LEDGER_COMMIT_LINGER``.

        Raises:
            ValueError: a variable is set to something that is not a valid value.
        """
        default = cls()
        return cls(
            anonymous_reads=_flag(environ, "LEDGER_ANONYMOUS_READS", default.anonymous_reads),
            max_body_bytes=int(_number(environ, "LEDGER_MAX_BODY_BYTES", default.max_body_bytes)),
            poll_interval=_number(environ, "LEDGER_POLL_INTERVAL", default.poll_interval),
            graphiql=_flag(environ, "LEDGER_GRAPHIQL", default.graphiql),
            checkpoint_interval=(
                0.0
                if environ.get("LEDGER_CHECKPOINT_INTERVAL", "").strip() in {"0", "0.0"}
                else _number(environ, "LEDGER_CHECKPOINT_INTERVAL", default.checkpoint_interval)
            ),
            commit_linger=_linger(environ, default.commit_linger),
        )


def _linger(environ: Mapping[str, str], default: float) -> float:
    """``LEDGER_COMMIT_LINGER``: seconds, 0 (off) up to 2 ms (a value in ms is a mistake)."""
    name = "LEDGER_COMMIT_LINGER"
    if environ.get(name, "").strip() in {"0", "0.0"}:
        return 0.0
    value = _number(environ, name, default)
    if value > _MAX_LINGER:
        raise ValueError(f"{name}: at most {_MAX_LINGER} seconds, got {environ[name]!r}")
    return value


_MAX_LINGER = 0.002  # ledger.api.committer.MAX_LINGER
