"""A naive Merkle tree written straight from RFC 9162 section 2.1, for cross-checks only.

Nothing here is fast or clever: MTH, PATH and PROOF/SUBPROOF are the RFC's
recursive definitions transcribed one case per line, over a list ``d`` of
entries. The hash rules are spelled out again with hashlib rather than
imported from ``ledger.merkle`` so that the fast code is checked against an
independent transcription.

PATH and SUBPROOF take the MTH function as a parameter. With :func:`mth` over
entries they give the real proofs; with :func:`span` over ``range(n)`` (a
Python ``range`` slices into a ``range``) they give which leaf range each
proof entry covers, cheaply, for trees of any size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["all_perfect_nodes", "largest_power_of_two_below", "mth", "path", "proof", "span"]

T = TypeVar("T")
R = TypeVar("R")


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162 2.1.1: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1."""
    n = len(d)
    if n == 0:
        # MTH({}) = SHA-256()
        return hashlib.sha256(b"").digest()
    if n == 1:
        # MTH({d(0)}) = SHA-256(0x00 || d(0))
        return hashlib.sha256(b"\x00" + d[0]).digest()
    # MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
    k = largest_power_of_two_below(n)
    return hashlib.sha256(b"\x01" + mth(d[0:k]) + mth(d[k:n])).digest()


def span(d: Sequence[int]) -> tuple[int, int]:
    """A stand-in for MTH over ``range(n)``: the [start, stop) leaf range hashed."""
    assert isinstance(d, range), "span stands in for MTH over range(n) only"
    return (d.start, d.stop)


def path(m: int, d: Sequence[T], h: Callable[[Sequence[T]], R]) -> list[R]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1, with ``h`` as MTH."""
    n = len(d)
    if n == 1:
        # PATH(0, {d(0)}) = {}
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        # PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k
        return [*path(m, d[0:k], h), h(d[k:n])]
    # PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k
    return [*path(m - k, d[k:n], h), h(d[0:k])]


def proof(m: int, d: Sequence[T], h: Callable[[Sequence[T]], R]) -> list[R]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 section 2.1.4.1 (0 < m <= n)."""
    return subproof(m, d, True, h)


def subproof(m: int, d: Sequence[T], b: bool, h: Callable[[Sequence[T]], R]) -> list[R]:
    """SUBPROOF(m, D[n], b) of RFC 9162 section 2.1.4.1."""
    n = len(d)
    if m == n:
        # SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
        return [] if b else [h(d)]
    k = largest_power_of_two_below(n)
    if m <= k:
        # SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) for m <= k
        return [*subproof(m, d[0:k], b, h), h(d[k:n])]
    # SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) for m > k
    return [*subproof(m - k, d[k:n], False, h), h(d[0:k])]


def all_perfect_nodes(d: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete perfect subtree of D[n] of level >= 1, as {(level, index): MTH}."""
    nodes: dict[tuple[int, int], bytes] = {}
    level = 1
    while 2**level <= len(d):
        width = 2**level
        for index in range(len(d) // width):
            nodes[(level, index)] = mth(d[index * width : (index + 1) * width])
        level += 1
    return nodes
