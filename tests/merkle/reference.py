"""A naive Merkle tree written straight from RFC 9162 section 2.1, for cross-checks only.

Nothing here is clever: MTH, PATH and PROOF/SUBPROOF are the RFC's recursive
definitions transcribed one case per line. The hash rules are spelled out
again with hashlib rather than imported from ``ledger.merkle``, so the fast
code is checked against an independent transcription.

PATH and SUBPROOF run over a sequence ``d`` and take the MTH function ``h`` as
a parameter. The tests run them over ``range(n)``, whose slices are ranges, so
each ``h(D[a:b])`` names the leaf range it hashes:

- with :meth:`ReferenceTree.mth_of`, ``h`` is the real MTH of those entries
  (memoized per range, which changes no result, only the running time);
- with :func:`span`, ``h`` returns the range itself, which shows which leaves
  each proof entry covers in a tree of any size, without hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["ReferenceTree", "largest_power_of_two_below", "path", "proof", "span", "subproof"]

T = TypeVar("T")
R = TypeVar("R")


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162 section 2.1.1: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class ReferenceTree:
    """MTH (RFC 9162 section 2.1.1) over a fixed list of entries D."""

    def __init__(self, d: Sequence[bytes]) -> None:
        self.d = d
        self._memo: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        if (lo, hi) in self._memo:
            return self._memo[(lo, hi)]
        n = hi - lo
        if n == 0:
            # MTH({}) = SHA-256()
            result = hashlib.sha256(b"").digest()
        elif n == 1:
            # MTH({d(0)}) = SHA-256(0x00 || d(0))
            result = hashlib.sha256(b"\x00" + self.d[lo]).digest()
        else:
            # MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
            k = largest_power_of_two_below(n)
            left, right = self.mth(lo, lo + k), self.mth(lo + k, hi)
            result = hashlib.sha256(b"\x01" + left + right).digest()
        self._memo[(lo, hi)] = result
        return result

    def mth_of(self, leaves: Sequence[int]) -> bytes:
        """MTH of the entries whose indices are the range ``leaves``: an ``h`` for PATH."""
        lo, hi = span(leaves)
        return self.mth(lo, hi)

    def perfect_nodes(self, size: int) -> dict[tuple[int, int], bytes]:
        """Every perfect subtree of level >= 1 complete in D[0:size], as {(level, index): MTH}."""
        nodes: dict[tuple[int, int], bytes] = {}
        level = 1
        while 2**level <= size:
            width = 2**level
            for index in range(size // width):
                nodes[(level, index)] = self.mth(index * width, (index + 1) * width)
            level += 1
        return nodes


def span(leaves: Sequence[int]) -> tuple[int, int]:
    """A stand-in for MTH over ``range(n)``: the [start, stop) leaf range it would hash."""
    assert isinstance(leaves, range), "span stands in for MTH over range(n) only"
    return (leaves.start, leaves.stop)


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
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 section 2.1.4.1, 0 < m <= n."""
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
