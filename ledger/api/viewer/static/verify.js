// The verification panel: the latest signed checkpoint, and an event's
// inclusion in it proved in this browser (Web Crypto), not taken on trust.

import { gql } from "./api.js";
import { h, section } from "./dom.js";
import { checkInclusion, parseCheckpoint, ProofError, verifyNote } from "./merkle.js";
import { summarise } from "./summary.js";

const CHECKPOINT = `query Checkpoint { checkpoint { origin treeSize rootHash signedNote } }`;

const PROOF = `query Proof($seq: Int!, $treeSize: Int!) {
  event(seq: $seq) { seq type subject actor occurredAt hash canonical data }
  inclusionProof(seq: $seq, treeSize: $treeSize) { seq leafIndex treeSize leafHash rootHash proof }
}`;

function status(ok, text) {
  return h("strong", { class: ok ? "ok" : "bad" }, text);
}

function noteCheck(checkpoint) {
  if (!checkpoint.signedNote) {
    return h("p", { class: "muted" }, "The server has no signing key: no signed note.");
  }
  try {
    const note = parseCheckpoint(checkpoint.signedNote);
    const agrees = note.treeSize === checkpoint.treeSize && note.rootHash === checkpoint.rootHash;
    return h(
      "p",
      { id: "note-check" },
      status(agrees, agrees ? "note agrees" : "note disagrees"),
      agrees
        ? " — the signed note carries this tree size and root."
        : ` — the note says size ${note.treeSize}, root ${note.rootHash}.`,
    );
  } catch (error) {
    return h("p", { id: "note-check" }, status(false, "malformed note"), ` ${error.message}`);
  }
}

function signatureForm(checkpoint) {
  const key = h("input", {
    id: "verifier-key",
    size: 70,
    placeholder: "verifier key, from `rollout-ledger key show`",
  });
  const out = h("span", { id: "signature-result" });
  const form = h(
    "form",
    { class: "controls", id: "signature-form" },
    h("label", {}, "Verifier key ", key),
    h("button", { type: "submit" }, "Check signature"),
    out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const good = await verifyNote(checkpoint.signedNote, key.value);
      out.replaceChildren(status(good, good ? "signature valid" : "signature INVALID"));
    } catch (error) {
      const why = error instanceof ProofError ? error.message : `cannot check: ${error.message}`;
      out.replaceChildren(status(false, why));
    }
  });
  return form;
}

function checkpointCard(checkpoint) {
  return section(
    "Latest signed checkpoint",
    h(
      "dl",
      { class: "facts", id: "checkpoint" },
      h("dt", {}, "origin"),
      h("dd", {}, checkpoint.origin),
      h("dt", {}, "tree size"),
      h("dd", { id: "tree-size" }, checkpoint.treeSize),
      h("dt", {}, "root hash"),
      h("dd", {}, h("code", { id: "root-hash" }, checkpoint.rootHash)),
    ),
    checkpoint.signedNote ? h("pre", { id: "signed-note" }, checkpoint.signedNote) : null,
    noteCheck(checkpoint),
    checkpoint.signedNote ? signatureForm(checkpoint) : null,
  );
}

function report(outcome) {
  return [
    h(
      "p",
      { id: "proof-verdict", class: outcome.ok ? "ok" : "bad" },
      outcome.ok ? "verified" : "NOT verified",
    ),
    h(
      "ol",
      { class: "steps" },
      outcome.steps.map((step) =>
        h("li", { class: step.ok ? "ok" : "bad" }, `${step.name}: `, h("code", {}, step.detail)),
      ),
    ),
  ];
}

// Shown from the canonical bytes, which are what gets hashed and proven, not
// from the server's other fields about the event.
function eventView(event) {
  let shown;
  try {
    shown = JSON.parse(event.canonical);
    if (typeof shown !== "object" || shown === null) throw new TypeError("not an object");
  } catch {
    shown = { seq: "?", type: "?", subject: "?", actor: "?", data: {} };
  }
  return [
    h(
      "p",
      { id: "proof-event-line" },
      `seq ${shown.seq} · ${shown.type} · ${shown.subject} · ${shown.actor}: ${summarise(shown)}`,
    ),
    h(
      "details",
      {},
      h("summary", {}, "canonical bytes (what the hash covers)"),
      h("pre", { id: "canonical" }, event.canonical),
    ),
  ];
}

// The tree head proofs are checked against. With a signed note, that is the
// note's size and root: the fields beside it are the server's word, which the
// signature does not cover.
function trustedHead(checkpoint) {
  if (!checkpoint.signedNote) {
    return { treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, what: "checkpoint" };
  }
  const note = parseCheckpoint(checkpoint.signedNote);
  return { treeSize: note.treeSize, rootHash: note.rootHash, what: "signed checkpoint" };
}

function proofCard(head, params) {
  const seq = h("input", {
    id: "seq",
    type: "number",
    min: 1,
    max: head.treeSize,
    value: params.get("seq") ?? head.treeSize,
    required: true,
  });
  const eventBox = h("div", { id: "proof-event" });
  const path = h("textarea", {
    id: "proof-path",
    rows: 8,
    cols: 70,
    spellcheck: "false",
    "aria-label": "audit path, one hash per line",
  });
  const recheck = h(
    "button",
    { type: "button", id: "recheck", disabled: true },
    "Re-check with this path",
  );
  const result = h("div", { id: "proof-result", "aria-live": "polite" });
  let event = null;
  let wantedSeq = null;

  // Always against the signed root, never the root the proof claims.
  const check = async () => {
    const outcome = await checkInclusion({
      canonical: event.canonical,
      eventHash: event.hash,
      seq: wantedSeq,
      treeSize: head.treeSize,
      rootHash: head.rootHash,
      what: head.what,
      proof: path.value.split(/\s+/).filter(Boolean),
    });
    result.dataset.ok = String(outcome.ok);
    result.replaceChildren(...report(outcome));
  };

  const run = async (wanted) => {
    delete result.dataset.ok;
    let data;
    try {
      data = await gql(PROOF, { seq: wanted, treeSize: head.treeSize });
    } catch (error) {
      // Shown in the panel, so the checkpoint above stays on screen.
      result.replaceChildren(
        h("p", { id: "proof-verdict", class: "bad" }, `no proof: ${error.message}`),
      );
      return;
    }
    event = data.event;
    wantedSeq = wanted;
    eventBox.replaceChildren(...eventView(event));
    path.value = data.inclusionProof.proof.join("\n");
    recheck.disabled = false;
    await check();
  };

  const form = h(
    "form",
    { id: "proof-form", class: "controls" },
    h("label", {}, "Event seq ", seq),
    h("button", { type: "submit" }, "Fetch proof and verify"),
  );
  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const wanted = Number(seq.value);
    // Through the URL, so a check can be bookmarked; the router then runs it.
    if (params.get("seq") !== String(wanted)) location.hash = `#/verify?seq=${wanted}`;
    else run(wanted);
  });
  recheck.addEventListener("click", () => check());
  return {
    card: section(
      "Inclusion proof",
      h(
        "p",
        { class: "muted" },
        "The proof comes from the server; the hashing happens here, with Web Crypto. ",
        "Edit the path to see a tampered proof fail.",
      ),
      form,
      eventBox,
      h("label", { class: "block" }, "Audit path (RFC 9162 §2.1.3, lowest level first)", path),
      recheck,
      result,
    ),
    start: async () => {
      if (params.get("seq")) await run(Number(params.get("seq")));
    },
  };
}

export async function renderVerify(page, _arg, params) {
  const { checkpoint } = await gql(CHECKPOINT);
  let head;
  try {
    head = trustedHead(checkpoint);
  } catch (error) {
    if (!(error instanceof ProofError)) throw error;
    const refused = section(
      "Inclusion proof",
      h("p", { id: "proof-verdict", class: "bad" }, `nothing to verify against: ${error.message}`),
    );
    page.replaceChildren(h("h1", {}, "Verify"), checkpointCard(checkpoint), refused);
    return;
  }
  const proof = proofCard(head, params);
  page.replaceChildren(h("h1", {}, "Verify"), checkpointCard(checkpoint), proof.card);
  await proof.start();
}
