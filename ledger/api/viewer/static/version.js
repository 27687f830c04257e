// One model version and the evidence behind it: tests, approvals (revoked or
// not), decisions, stages, rollbacks and the attempts the policy refused.

import { gql } from "./api.js";
import { formatTime, h, hashCell, lineageLink, section, seqLink, table } from "./dom.js";

const VERSION = `query Version($ref: String!) {
  modelVersion(ref: $ref) {
    ref version artifactDigest trainingRun codeRef author trainedOn
    tests { kind suite passed environment metrics seq hash time }
    approvals { actor role environment revoked revokedBy seq hash time }
    decisions { decision environment actor strategy targetExposure seq hash time }
    stages { environment strategy exposure seq hash time }
    rollbacks { environment role fromVersion toVersion seq hash time }
    denials { draftType actor unmet environment seq hash time }
  }
}`;

function evidenceTables(v) {
  const rec = (r) => [
    h("td", {}, seqLink(r.seq)),
    h("td", {}, formatTime(r.time)),
    h("td", {}, hashCell(r.hash)),
  ];
  const metrics = (m) =>
    Object.entries(m ?? {})
      .map(([k, val]) => `${k}=${val}`)
      .join(", ");
  return [
    h("h3", {}, "Test evidence"),
    table(
      ["kind", "suite", "result", "environment", "metrics", "seq", "time", "hash"],
      v.tests.map((t) =>
        h(
          "tr",
          {},
          h("td", {}, t.kind),
          h("td", {}, t.suite),
          h("td", { class: t.passed ? "ok" : "bad" }, t.passed ? "passed" : "failed"),
          h("td", {}, t.environment ?? ""),
          h("td", {}, metrics(t.metrics)),
          rec(t),
        ),
      ),
      { class: "tests" },
    ),
    h("h3", {}, "Approvals"),
    table(
      ["approver", "role", "environment", "state", "seq", "time", "hash"],
      v.approvals.map((a) =>
        h(
          "tr",
          {},
          h("td", {}, a.actor ?? ""),
          h("td", {}, a.role ?? ""),
          h("td", {}, a.environment ?? ""),
          h(
            "td",
            { class: a.revoked ? "bad" : "ok" },
            a.revoked ? `revoked by ${a.revokedBy ?? "?"}` : "valid",
          ),
          rec(a),
        ),
      ),
      { class: "approvals" },
    ),
    h("h3", {}, "Decisions, stages and rollbacks"),
    table(
      ["what", "environment", "detail", "by", "seq", "time", "hash"],
      [
        ...v.decisions.map((d) => [
          "decision",
          d.environment,
          `${d.decision}${d.targetExposure != null ? ` to ${d.targetExposure}%` : ""}`,
          d.actor,
          d,
        ]),
        ...v.stages.map((s) => ["stage", s.environment, `${s.strategy} at ${s.exposure}%`, "", s]),
        ...v.rollbacks.map((r) => [
          "rollback",
          r.environment,
          `${r.fromVersion} → ${r.toVersion} (${r.role})`,
          "",
          r,
        ]),
        ...v.denials.map((d) => [
          "denied",
          d.environment,
          `${d.draftType}: ${d.unmet.join("; ")}`,
          d.actor,
          d,
        ]),
      ]
        .sort((a, b) => a[4].seq - b[4].seq)
        .map(([what, env, detail, actor, r]) =>
          h(
            "tr",
            { class: `kind-${what}` },
            h("td", {}, what),
            h("td", {}, env ?? ""),
            h("td", {}, detail),
            h("td", {}, actor ?? ""),
            rec(r),
          ),
        ),
      { class: "decisions" },
    ),
  ];
}

export async function versionCard(ref) {
  const { modelVersion: v } = await gql(VERSION, { ref });
  if (!v) return section(ref, h("p", { class: "muted" }, "nothing recorded"));
  return h(
    "section",
    { class: "card", id: "version", "data-ref": v.ref },
    h("h2", {}, `Version ${v.version}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "author"),
      h("dd", {}, v.author ?? "–"),
      h("dt", {}, "training run"),
      h("dd", {}, v.trainingRun ?? "–"),
      h("dt", {}, "code"),
      h("dd", {}, v.codeRef ?? "–"),
      h("dt", {}, "artifact"),
      h("dd", {}, h("code", {}, v.artifactDigest ?? "–")),
      h("dt", {}, "trained on"),
      h(
        "dd",
        {},
        v.trainedOn.map((d) => [lineageLink(d), " "]),
      ),
      h("dt", {}, "lineage"),
      h("dd", {}, lineageLink(v.ref, "upstream and downstream")),
    ),
    evidenceTables(v),
  );
}
