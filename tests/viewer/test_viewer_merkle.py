"""The browser's RFC 9162 code (merkle.js, Web Crypto) agrees with the server's, tree by tree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.viewer.conftest import Served

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Powers of two and their neighbours: where the right edge of the tree changes shape.
TREE_SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100)

RECOMPUTE = """async (cases) => {
  const m = await import("/viewer/merkle.js");
  const out = [];
  for (const c of cases) {
    const leaf = await m.leafHash(m.utf8(c.canonical));
    const root = await m.rootFromInclusionProof(
      leaf, c.seq - 1, c.tree_size, c.proof.map(m.hexToBytes));
    out.push({ leaf: m.bytesToHex(leaf), root: m.bytesToHex(root) });
  }
  return out;
}"""


def _cases(served: Served) -> list[dict[str, Any]]:
    events = served.graphql("{ events(first: 100) { nodes { seq canonical } } }")["events"]
    canonical = {e["seq"]: e["canonical"] for e in events["nodes"]}  # type: ignore[index]
    cases = []
    with httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {served.token}"}, timeout=10
    ) as http:
        for size in TREE_SIZES:
            for seq in sorted({1, size // 2 + 1, size}):
                proof = http.get("/v1/proof/inclusion", params={"seq": seq, "tree_size": size})
                assert proof.status_code == 200, proof.text
                cases.append({**proof.json(), "canonical": canonical[seq]})
    return cases


def test_the_page_recomputes_the_servers_leaf_hashes_and_roots(page: Page, served: Served) -> None:
    cases = _cases(served)
    page.goto("/")
    page.wait_for_selector("body[data-state=ready]")
    computed = page.evaluate(RECOMPUTE, cases)
    assert [c["leaf"] for c in computed] == [c["leaf_hash"] for c in cases]
    assert [c["root"] for c in computed] == [c["root_hash"] for c in cases]


def test_the_page_refuses_a_proof_of_the_wrong_length(page: Page, served: Served) -> None:
    case = next(c for c in _cases(served) if len(c["proof"]) > 1)
    case["proof"] = case["proof"][:-1]
    page.goto("/")
    page.wait_for_selector("body[data-state=ready]")
    error = page.evaluate(
        "async (c) => { try { await (" + RECOMPUTE + ")([c]); return ''; }"
        " catch (e) { return e.message; } }",
        case,
    )
    assert "too short" in error


PROOF_FIELDS = "seq treeSize leafHash rootHash proof"
BATCH = 30  # the server's alias limit per document


def _every_proof(served: Served) -> list[dict[str, Any]]:
    """The server's inclusion proof of every seq in every tree of size 1..100, via GraphQL."""
    events = served.graphql("{ events(first: 100) { nodes { seq canonical } } }")["events"]
    canonical = {e["seq"]: e["canonical"] for e in events["nodes"]}  # type: ignore[index]
    assert len(canonical) == 100
    pairs = [(seq, size) for size in range(1, 101) for seq in range(1, size + 1)]
    cases: list[dict[str, Any]] = []
    for start in range(0, len(pairs), BATCH):
        batch = pairs[start : start + BATCH]
        fields = " ".join(
            f"p{i}: inclusionProof(seq: {seq}, treeSize: {size}) {{ {PROOF_FIELDS} }}"
            for i, (seq, size) in enumerate(batch)
        )
        data = served.graphql(f"{{ {fields} }}")
        for i, (seq, _size) in enumerate(batch):
            proof: dict[str, Any] = data[f"p{i}"]  # type: ignore[assignment]
            cases.append(
                {
                    "seq": proof["seq"],
                    "tree_size": proof["treeSize"],
                    "leaf_hash": proof["leafHash"],
                    "root_hash": proof["rootHash"],
                    "proof": proof["proof"],
                    "canonical": canonical[seq],
                }
            )
    return cases


def test_the_page_agrees_with_the_server_at_every_index_of_every_size_up_to_100(
    page: Page, served: Served
) -> None:
    cases = _every_proof(served)
    assert len(cases) == 5050
    page.goto("/")
    page.wait_for_selector("body[data-state=ready]")
    computed = page.evaluate(RECOMPUTE, cases)
    assert [c["leaf"] for c in computed] == [c["leaf_hash"] for c in cases]
    assert [c["root"] for c in computed] == [c["root_hash"] for c in cases]


# Each proof of size 1..12 replayed at every *other* index of its tree: never the same root.
WRONG_INDEX = """async (cases) => {
  const m = await import("/viewer/merkle.js");
  const accepted = [];
  for (const c of cases) {
    const leaf = await m.leafHash(m.utf8(c.canonical));
    for (let index = 0; index < c.tree_size; index += 1) {
      if (index === c.seq - 1) continue;
      try {
        const root = await m.rootFromInclusionProof(
          leaf, index, c.tree_size, c.proof.map(m.hexToBytes));
        if (m.bytesToHex(root) === c.root_hash) accepted.push([c.seq, c.tree_size, index]);
      } catch (e) {
        if (!(e instanceof m.ProofError)) throw e;
      }
    }
  }
  return accepted;
}"""


def test_a_proof_never_verifies_at_another_index(page: Page, served: Served) -> None:
    cases = [c for c in _every_proof(served) if c["tree_size"] <= 12]
    page.goto("/")
    page.wait_for_selector("body[data-state=ready]")
    assert page.evaluate(WRONG_INDEX, cases) == []


# (index, size, proof: "ok" | "extra" | "short31", expected error or None)
EDGE = """async ([c, index, size, shape]) => {
  const m = await import("/viewer/merkle.js");
  const leaf = await m.leafHash(m.utf8(c.canonical));
  let proof = c.proof.map(m.hexToBytes);
  if (shape === "extra") proof = [...proof, new Uint8Array(32)];
  if (shape === "short31" && proof.length) proof = [proof[0].slice(1), ...proof.slice(1)];
  try {
    return m.bytesToHex(await m.rootFromInclusionProof(leaf, index, size, proof));
  } catch (e) {
    if (!(e instanceof m.ProofError)) throw e;
    return `error: ${e.message}`;
  }
}"""


@pytest.mark.parametrize(
    ("index", "size", "shape", "expected"),
    [
        (7, 7, "ok", "error: leaf index 7 is out of range for tree size 7"),
        (-1, 7, "ok", "error: leaf index -1 is out of range for tree size 7"),
        (0, 0, "ok", "error: leaf index 0 is out of range for tree size 0"),
        (1.5, 7, "ok", "error: leaf index 1.5 is out of range for tree size 7"),
        (6, 7, "extra", "error: proof for tree size 7 is too long"),
        (6, 7, "short31", "error: a proof hash is 31 bytes, want 32"),
    ],
)
def test_the_page_refuses_every_malformed_index_size_and_path(
    page: Page, served: Served, index: float, size: int, shape: str, expected: str
) -> None:
    case = next(c for c in _cases(served) if c["seq"] == 7 and c["tree_size"] == 7)
    page.goto("/")
    page.wait_for_selector("body[data-state=ready]")
    assert page.evaluate(EDGE, [case, index, size, shape]) == expected


def test_a_one_leaf_tree_has_the_leaf_as_its_root(page: Page, served: Served) -> None:
    case = next(c for c in _cases(served) if c["tree_size"] == 1)
    assert case["proof"] == []
    page.goto("/")
    page.wait_for_selector("body[data-state=ready]")
    assert page.evaluate(EDGE, [case, 0, 1, "ok"]) == case["leaf_hash"] == case["root_hash"]
