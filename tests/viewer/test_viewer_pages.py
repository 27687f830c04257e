"""The viewer end to end: headless Chromium against a real server holding the demo story.

Every test leaves a screenshot in test-artifacts/viewer/ (see conftest).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from ledger.demo import INCIDENT, MODELS
from tests.viewer.conftest import TOKEN_KEY, Served, Shoot

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

VERSION = "model:fraud-detector@1.4.0"
TIMELINE = """query($subjects: [String!]!, $from: DateTime, $to: DateTime, $related: Boolean!) {
  timeline(subjects: $subjects, from: $from, to: $to, related: $related, first: 100) {
    nodes { seq type occurredAt hash }
  }
}"""


def show(page: Page, route: str) -> None:
    """Open ``route`` and wait until the page has rendered (or failed, which fails the test)."""
    page.goto(f"/{route}")
    page.wait_for_selector("body[data-state=ready], body[data-state=error]")
    state = page.evaluate("document.body.dataset.state")
    assert state == "ready", page.inner_text("#error")


def seqs(page: Page, rows: str) -> list[int]:
    return [int(seq) for seq in page.eval_on_selector_all(rows, "rs => rs.map(r => r.dataset.seq)")]


def test_without_a_token_the_viewer_says_why_and_a_pasted_token_loads_the_models(
    anonymous_page: Page, served: Served, shoot: Shoot
) -> None:
    page = anonymous_page
    page.goto("/")
    page.wait_for_selector("body[data-state=error]")
    assert "no token" in page.inner_text("#error")
    shoot(page, "01-no-token")
    page.fill("#token", served.token)
    page.click("#token-form button")
    page.wait_for_selector("body[data-state=ready]")
    assert page.inner_text("#token-state") == "token set"
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") == served.token
    names = page.eval_on_selector_all(
        "#models tr[data-model]", "rs => rs.map(r => r.dataset.model)"
    )
    assert names == list(MODELS)
    assert INCIDENT in page.inner_text("#incidents")
    shoot(page, "02-models")


def test_with_anonymous_reads_an_empty_token_is_enough(open_server_page: Page) -> None:
    show(open_server_page, "")
    assert open_server_page.inner_text("#token-state") == "anonymous"
    assert open_server_page.locator("#models tr[data-model]").count() == len(MODELS)


def test_the_model_page_shows_versions_exposure_approvals_tests_and_history(
    page: Page, shoot: Shoot
) -> None:
    show(page, "#/model/fraud-detector")
    versions = page.eval_on_selector_all(
        "#versions tr[data-version]", "rs => rs.map(r => r.dataset.version)"
    )
    assert versions == ["1.3.2", "1.4.0"]
    prod = page.inner_text('#deployments tr[data-deployment="deployment:fraud-detector/prod"]')
    assert "1.4.0" in prod
    assert "100%" in prod
    assert page.get_attribute("#version", "data-ref") == VERSION  # the latest, by default
    assert "ml-lead-ben" in page.inner_text("#version table.approvals")
    assert page.locator("#version table.tests tbody tr").count() >= 5
    assert "canary at 25%" in page.inner_text("#version table.decisions")
    history = seqs(page, "#history tr[data-seq]")
    assert history == sorted(history)
    assert len(history) > 10
    shoot(page, "03-model-fraud-detector")

    show(page, "#/model/product-recommender?version=2.4.0")
    assert "prod: rolled_back" in page.inner_text('#versions tr[data-version="2.4.0"]')
    assert "revoked" in page.inner_text("#version table.approvals")
    assert "rollback" in page.inner_text("#version table.decisions")
    shoot(page, "04-model-product-recommender")


def test_the_incident_timeline_lists_events_with_seq_and_hash_on_a_marked_time_axis(
    page: Page, served: Served, shoot: Shoot
) -> None:
    show(page, f"#/timeline?subjects={quote(INCIDENT)}&related=1")
    expected = served.graphql(TIMELINE, subjects=[INCIDENT], related=True)["timeline"]
    events: list[dict[str, Any]] = expected["nodes"]  # type: ignore[index]
    assert seqs(page, "#timeline tr[data-seq]") == [e["seq"] for e in events]
    first = page.locator("#timeline tr[data-seq]").first
    assert first.locator("code.hash").get_attribute("title") == events[0]["hash"]
    assert first.locator("a.seq").inner_text() == str(events[0]["seq"])
    kinds = set(
        page.eval_on_selector_all("#axis circle.marker", "ms => ms.map(m => m.dataset.kind)")
    )
    assert {"stage", "alert", "rollback", "incident"} <= kinds
    assert page.locator("#axis circle.marker").count() == len(events)
    assert "deployment:product-recommender/prod" in page.inner_text("#covered")
    rollback = page.locator("#axis circle.marker[data-kind=rollback]").last  # drawn on top
    seq = rollback.get_attribute("data-seq")
    rollback.click()
    assert (
        page.get_attribute(f'#timeline tr[data-seq="{seq}"]', "class") == "kind-rollback selected"
    )
    shoot(page, "05-timeline-incident")


def test_a_deployment_timeline_in_a_window_picked_in_the_form(
    page: Page, served: Served, shoot: Shoot
) -> None:
    deployment = "deployment:product-recommender/prod"
    whole = served.graphql(TIMELINE, subjects=[deployment], related=False)["timeline"]
    times = sorted(e["occurredAt"] for e in whole["nodes"])  # type: ignore[index]
    start, end = times[1][:16], times[-1][:16]  # minutes, as a datetime-local input holds them
    show(page, "#/timeline")
    page.fill("#timeline-form input[name=subjects]", deployment)
    page.fill("#timeline-form input[name=from]", start)
    page.fill("#timeline-form input[name=to]", end)
    page.uncheck("#timeline-form input[name=related]")
    page.click("#timeline-form button[type=submit]")
    page.wait_for_selector("#timeline tr[data-seq]")
    window = served.graphql(
        TIMELINE,
        subjects=[deployment],
        related=False,
        **{"from": f"{start}:00Z", "to": f"{end}:00Z"},
    )["timeline"]
    wanted = [e["seq"] for e in window["nodes"]]  # type: ignore[index]
    assert 0 < len(wanted) < len(whole["nodes"])  # type: ignore[index]
    assert seqs(page, "#timeline tr[data-seq]") == wanted
    assert "from=" in page.url
    shoot(page, "06-timeline-deployment-window")


def test_clicking_a_lineage_node_recentres_the_graph(page: Page, shoot: Shoot) -> None:
    show(page, f"#/lineage/{quote(VERSION, safe='')}")
    assert page.get_attribute("#graph g.node.centre", "data-ref") == VERSION
    assert page.locator("#graph g.node").count() > 5
    assert page.locator("#graph path.edge").count() > 5
    shoot(page, "07-lineage-version")
    target = "dataset:fraud-features@2026-11-12"
    page.click(f'#graph g.node[data-ref="{target}"]')
    page.wait_for_selector(f'#graph g.node.centre[data-ref="{target}"]')
    assert page.inner_text("#centre") == target
    assert quote(target, safe="") in page.url
    # The version it was centred on is now a neighbour, downstream of the dataset.
    assert page.locator(f'#graph g.node[data-ref="{VERSION}"]').count() == 1
    shoot(page, "08-lineage-recentred")


def test_lineage_as_of_a_time_shows_the_graph_as_it_stood(
    page: Page, served: Served, shoot: Shoot
) -> None:
    first = served.graphql("{ event(seq: 24) { recordedAt } }")["event"]
    as_of = first["recordedAt"][:16]  # type: ignore[index]
    show(page, f"#/lineage/{quote(VERSION, safe='')}")
    now = set(page.eval_on_selector_all("#graph g.node", "ns => ns.map(n => n.dataset.ref)"))
    page.fill("#lineage-form input[name=asOf]", as_of)
    page.click("#lineage-form button[type=submit]")
    page.wait_for_url("**asOf=*")
    page.wait_for_selector("body[data-state=ready]")
    then = set(page.eval_on_selector_all("#graph g.node", "ns => ns.map(n => n.dataset.ref)"))
    assert then < now
    assert "deployment:fraud-detector/prod" in now - then
    shoot(page, "09-lineage-as-of")


def test_an_inclusion_proof_verifies_in_the_page_and_a_tampered_one_does_not(
    page: Page, served: Served, shoot: Shoot
) -> None:
    show(page, "#/verify?seq=5")
    checkpoint = served.graphql("{ checkpoint { treeSize rootHash } }")["checkpoint"]
    assert page.inner_text("#root-hash") == checkpoint["rootHash"]  # type: ignore[index]
    assert page.inner_text("#note-check").startswith("note agrees")
    page.wait_for_selector("#proof-result[data-ok]")
    assert page.get_attribute("#proof-result", "data-ok") == "true"
    assert page.inner_text("#proof-verdict") == "verified"
    proof = served.graphql(
        "query($n: Int!) { inclusionProof(seq: 5, treeSize: $n) { leafHash } }",
        n=checkpoint["treeSize"],  # type: ignore[index]
    )["inclusionProof"]
    # Web Crypto in the page and the Python tree agree on the leaf hash.
    assert proof["leafHash"] in page.inner_text("#proof-result")  # type: ignore[index]
    page.fill("#verifier-key", served.verifier_key)
    page.click("#signature-form button")
    page.wait_for_selector("#signature-result strong")
    assert page.inner_text("#signature-result") == "signature valid"
    shoot(page, "10-verify-ok")

    path = page.input_value("#proof-path").split("\n")
    flipped = ("0" if path[0][0] != "0" else "1") + path[0][1:]
    page.fill("#proof-path", "\n".join([flipped, *path[1:]]))
    page.click("#recheck")
    page.wait_for_selector("#proof-result[data-ok=false]")
    assert page.inner_text("#proof-verdict") == "NOT verified"
    assert "the signed checkpoint says" in page.inner_text("#proof-result")
    shoot(page, "11-verify-tampered")

    page.fill("#proof-path", "\n".join(path[:-1]))  # one hash short
    page.click("#recheck")
    page.wait_for_selector("#proof-result[data-ok=false]")
    assert "too short" in page.inner_text("#proof-result")


def _rewrite_graphql(page: Page, change: Callable[[dict[str, Any]], None]) -> None:
    """Let ``change`` edit every GraphQL request body the page sends (a lying server's view)."""

    def handle(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        change(body)
        route.continue_(post_data=json.dumps(body))

    page.route("**/graphql", handle)


def test_a_proof_is_checked_against_the_signed_root_not_the_unsigned_fields(
    page: Page, served: Served
) -> None:
    # The server's unsigned treeSize/rootHash disagree with its signed note: the
    # page must prove against what the key vouches for, and say they disagree.
    def lie(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        checkpoint = (body.get("data") or {}).get("checkpoint")
        if checkpoint and "signedNote" in checkpoint:
            checkpoint["rootHash"] = "00" * 32
        route.fulfill(response=response, json=body)

    page.route("**/graphql", lie)
    show(page, "#/verify?seq=5")
    assert page.inner_text("#note-check").startswith("note disagrees")
    page.wait_for_selector("#proof-result[data-ok]")
    assert page.get_attribute("#proof-result", "data-ok") == "true"
    assert "matches the signed checkpoint" in page.inner_text("#proof-result")


def test_a_proof_of_another_event_does_not_pass_for_the_seq_asked_for(
    page: Page, served: Served
) -> None:
    # Asked for seq 6, the server answers with seq 5 and its (valid) proof.
    def swap(body: dict[str, Any]) -> None:
        if body.get("variables", {}).get("seq") == 6:
            body["variables"]["seq"] = 5

    _rewrite_graphql(page, swap)
    show(page, "#/verify?seq=6")
    page.wait_for_selector("#proof-result[data-ok]")
    assert page.get_attribute("#proof-result", "data-ok") == "false"
    assert "the canonical bytes hold seq 5, not 6" in page.inner_text("#proof-result")
    assert page.inner_text("#proof-event-line").startswith("seq 5 · ")


@pytest.mark.parametrize(
    ("direction", "present", "absent"),
    [
        ("upstream", "dataset:fraud-features@2026-11-12", "deployment:fraud-detector/prod"),
        ("downstream", "deployment:fraud-detector/prod", "dataset:fraud-features@2026-11-12"),
    ],
)
def test_the_lineage_page_draws_one_side_when_asked(
    page: Page, direction: str, present: str, absent: str
) -> None:
    show(page, f"#/lineage/{quote(VERSION, safe='')}")
    assert page.locator(f'#graph g.node[data-ref="{present}"]').count() == 1
    assert page.locator(f'#graph g.node[data-ref="{absent}"]').count() == 1
    page.select_option("#lineage-form select[name=direction]", direction)
    page.click("#lineage-form button[type=submit]")
    page.wait_for_url(f"**direction={direction}*")
    page.wait_for_selector("body[data-state=ready]")
    assert page.locator(f'#graph g.node[data-ref="{present}"]').count() == 1
    assert page.locator(f'#graph g.node[data-ref="{absent}"]').count() == 0
    assert page.input_value("#lineage-form select[name=direction]") == direction
    # Re-centring keeps the choice.
    page.click(f'#graph g.node[data-ref="{present}"]')
    page.wait_for_selector(f'#graph g.node.centre[data-ref="{present}"]')
    assert f"direction={direction}" in page.url
