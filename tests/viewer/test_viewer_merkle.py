"""The browser's RFC 9162 code (merkle.js, Web Crypto) agrees with the server's, tree by tree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

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
