// One line per event for timelines and histories, from the payload fields
// the event catalogue (schema/events/*.json) defines for each type.

const pct = (value) => (value === undefined || value === null ? "?" : `${value}%`);
const bare = (ref) => (ref ? String(ref).replace(/^model:/, "") : "?");

const SUMMARIES = {
  "model.registered": (d) => `owner ${d.owner ?? "?"}, risk tier ${d.risk_tier ?? "?"}`,
  "model.version.registered": (d) => `by ${d.author ?? "?"} from ${d.training_run ?? "?"}`,
  "dataset.version.registered": (d) => d.description ?? `from ${d.source}`,
  "lineage.edge.recorded": (d, e) => `${e.subject} ${d.relation} ${d.target}`,
  "test.result.recorded": (d) =>
    `${d.kind} ${d.suite}: ${d.passed ? "passed" : "FAILED"}${d.environment ? ` in ${d.environment}` : ""}`,
  "approval.granted": (d) => `${d.approver_role} approves for ${d.environment}: ${d.justification}`,
  "approval.revoked": (d) => `approval seq ${d.approval_seq} revoked: ${d.justification}`,
  "deployment.decided": (d) =>
    `${d.decision} in ${d.environment}${d.target_exposure != null ? ` to ${pct(d.target_exposure)}` : ""}: ${d.justification}`,
  "rollout.stage.changed": (d) => `${bare(d.version)} ${d.strategy} at ${pct(d.exposure_percent)}`,
  "rollout.gate.checked": (d) => `gate ${d.passed ? "passed" : "failed"}`,
  "alert.raised": (d) =>
    d.summary ?? `${d.metric} ${d.observed} (threshold ${d.threshold}), ${d.severity}`,
  "alert.resolved": (d) => `alert ${d.alert_id} resolved${d.reason ? `: ${d.reason}` : ""}`,
  "rollback.executed": (d) => `${bare(d.from_version)} → ${bare(d.to_version)}: ${d.reason}`,
  "rollback.verified": (d) =>
    `rollback ${bare(d.from_version)} → ${bare(d.to_version)} ${d.passed ? "verified" : "NOT verified"}`,
  "incident.opened": (d) => `${d.severity}: ${d.summary}`,
  "incident.resolved": (d) => d.summary,
  "review.recorded": (d) => `review: ${[d.findings].flat().join("; ")}`,
  "policy.defined": (d, e) =>
    `${e.subject} v${d.policy_version} for ${[d.environments].flat().join(", ")}`,
  "policy.denied": (d) => `refused ${d.draft_type ?? "?"}: ${(d.unmet ?? []).length} rule(s) unmet`,
  "retraining.triggered": (d) => `${d.signal}${d.reason ? `: ${d.reason}` : ""}`,
  "model.retired": (d) => d.reason ?? "retired",
};

// Fallback: the first few scalar fields, so an unknown type still reads.
function generic(data) {
  return Object.entries(data ?? {})
    .filter(([, value]) => ["string", "number", "boolean"].includes(typeof value))
    .slice(0, 3)
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
}

export function summarise(event) {
  const data = event.data ?? {};
  let line = String(SUMMARIES[event.type]?.(data, event) ?? generic(data));
  // An optional field the template expected is absent: plain fields read better.
  if (line.includes("undefined")) line = generic(data);
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}

// Which marker an event gets on a time axis.
export function kindOf(type) {
  if (type.startsWith("rollout.stage") || type === "deployment.decided") return "stage";
  if (type.startsWith("alert.")) return "alert";
  if (type.startsWith("rollback.")) return "rollback";
  if (type.startsWith("incident.") || type === "review.recorded") return "incident";
  if (type === "policy.denied") return "denied";
  return "other";
}
