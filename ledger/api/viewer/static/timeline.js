// The incident timeline: events about a subject (widened to related
// entities) in seq order, with an SVG time axis marking stages, alerts,
// rollbacks and the incident itself.

import { gql } from "./api.js";
import { formatTime, h, hashCell, lineageLink, s, section, seqLink } from "./dom.js";
import { kindOf, summarise } from "./summary.js";

const PICKS = `query Picks {
  incidents: events(types: ["incident.opened"], first: 100) { nodes { subject } }
  deployments(first: 100) { ref }
}`;

const TIMELINE = `query Timeline($subjects: [String!]!, $from: DateTime, $to: DateTime,
    $types: [String!], $related: Boolean!, $after: String) {
  timeline(subjects: $subjects, from: $from, to: $to, types: $types, related: $related,
      first: 100, after: $after) {
    subjects
    nodes { seq type subject actor occurredAt hash data }
    pageInfo { hasNextPage endCursor }
  }
}`;

const MAX_PAGES = 20; // 2000 events: beyond that a window is the better tool
const LEGEND = [
  ["stage", "stage / decision"],
  ["alert", "alert"],
  ["rollback", "rollback"],
  ["incident", "incident / review"],
  ["denied", "policy denied"],
  ["other", "other"],
];

// datetime-local inputs have no zone; the viewer reads and writes UTC.
const toInput = (iso) => (iso ? iso.slice(0, 16) : "");
const fromInput = (value) => (value ? `${value}:00Z` : "");

async function fetchAll(variables) {
  const events = [];
  let after = null;
  let subjects = [];
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const { timeline } = await gql(TIMELINE, { ...variables, after });
    subjects = timeline.subjects;
    events.push(...timeline.nodes);
    if (!timeline.pageInfo.hasNextPage) return { events, subjects, truncated: false };
    after = timeline.pageInfo.endCursor;
  }
  return { events, subjects, truncated: true };
}

function ticks(start, end, count) {
  const step = (end - start) / count;
  return Array.from({ length: count + 1 }, (_, i) => start + i * step);
}

export function timeAxis(events) {
  const width = 960;
  const height = 110;
  const pad = 40;
  const times = events.map((e) => Date.parse(e.occurredAt));
  let start = Math.min(...times);
  let end = Math.max(...times);
  if (end === start) {
    start -= 3_600_000;
    end += 3_600_000;
  }
  const x = (t) => pad + ((t - start) / (end - start)) * (width - 2 * pad);
  const rows = { stage: 30, alert: 45, rollback: 60, incident: 75, denied: 45, other: 88 };
  const markers = events.map((e) => {
    const kind = kindOf(e.type);
    return s(
      "circle",
      {
        class: `marker kind-${kind}`,
        cx: x(Date.parse(e.occurredAt)).toFixed(1),
        cy: rows[kind],
        r: kind === "other" ? 3 : 6,
        "data-seq": e.seq,
        "data-kind": kind,
      },
      s("title", {}, `seq ${e.seq} ${formatTime(e.occurredAt)} ${e.type}: ${summarise(e)}`),
    );
  });
  const axis = ticks(start, end, 6).map((t) =>
    s(
      "g",
      { class: "tick" },
      s("line", { x1: x(t), x2: x(t), y1: 96, y2: 100 }),
      s(
        "text",
        { x: x(t), y: 108, "text-anchor": "middle" },
        new Date(t).toISOString().slice(5, 16).replace("T", " "),
      ),
    ),
  );
  return s(
    "svg",
    {
      class: "axis",
      id: "axis",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": "time axis",
    },
    s("line", { class: "baseline", x1: pad, x2: width - pad, y1: 96, y2: 96 }),
    axis,
    markers,
  );
}

function legend() {
  return h(
    "p",
    { class: "legend" },
    LEGEND.map(([kind, label]) => h("span", { class: `key kind-${kind}` }, label)),
  );
}

function form(params, picks) {
  const subjects = h("input", {
    name: "subjects",
    list: "subject-picks",
    size: 48,
    value: params.get("subjects") ?? "",
    placeholder: "incident:INC-… or deployment:<model>/<env> (comma-separated)",
    required: true,
  });
  const from = h("input", {
    name: "from",
    type: "datetime-local",
    value: toInput(params.get("from")),
  });
  const to = h("input", { name: "to", type: "datetime-local", value: toInput(params.get("to")) });
  const types = h("input", {
    name: "types",
    value: params.get("types") ?? "",
    placeholder: "all types (e.g. alert.*, rollback.*)",
  });
  const related = h("input", {
    name: "related",
    type: "checkbox",
    checked: params.get("related") !== "0",
  });
  const element = h(
    "form",
    { id: "timeline-form", class: "controls" },
    h("label", {}, "Subject ", subjects),
    h(
      "datalist",
      { id: "subject-picks" },
      picks.map((ref) => h("option", { value: ref })),
    ),
    h("label", {}, "From (UTC) ", from),
    h("label", {}, "To (UTC) ", to),
    h("label", {}, "Types ", types),
    h("label", {}, related, " related entities"),
    h("button", { type: "submit" }, "Show"),
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    next.set("subjects", subjects.value.trim());
    if (from.value) next.set("from", fromInput(from.value));
    if (to.value) next.set("to", fromInput(to.value));
    if (types.value.trim()) next.set("types", types.value.trim());
    next.set("related", related.checked ? "1" : "0");
    location.hash = `#/timeline?${next}`;
  });
  return element;
}

// A click on a marker brings its row into view and highlights it.
function linked(axis, rows) {
  axis.addEventListener("click", (event) => {
    const marker = event.target.closest("circle.marker");
    if (!marker) return;
    for (const row of rows)
      row.classList.toggle("selected", row.dataset.seq === marker.dataset.seq);
    rows.find((row) => row.dataset.seq === marker.dataset.seq)?.scrollIntoView({ block: "center" });
  });
  return axis;
}

const list = (value) =>
  value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

export async function renderTimeline(page, _arg, params) {
  const { incidents, deployments } = await gql(PICKS);
  const picks = [
    ...new Set([...incidents.nodes.map((e) => e.subject), ...deployments.map((d) => d.ref)]),
  ];
  const subjects = list(params.get("subjects") ?? "");
  const header = [h("h1", {}, "Timeline"), form(params, picks)];
  if (!subjects.length) {
    page.replaceChildren(
      ...header,
      h("p", { class: "muted" }, "Pick an incident or a deployment."),
    );
    return;
  }
  const {
    events,
    subjects: covered,
    truncated,
  } = await fetchAll({
    subjects,
    from: params.get("from") || null,
    to: params.get("to") || null,
    types: params.get("types") ? list(params.get("types")) : null,
    related: params.get("related") !== "0",
  });
  const rows = events.map((e) =>
    h(
      "tr",
      { "data-seq": e.seq, class: `kind-${kindOf(e.type)}` },
      h("td", {}, formatTime(e.occurredAt)),
      h("td", {}, seqLink(e.seq)),
      h("td", {}, e.actor),
      h("td", {}, e.type),
      h("td", {}, lineageLink(e.subject)),
      h("td", {}, summarise(e)),
      h("td", {}, hashCell(e.hash)),
    ),
  );
  page.replaceChildren(
    ...header,
    section(
      `${events.length} events${truncated ? " (first pages only: narrow the window)" : ""}`,
      events.length
        ? [legend(), linked(timeAxis(events), rows)]
        : h("p", { class: "muted" }, "No events in this window."),
      h(
        "table",
        { id: "timeline" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["occurred (UTC)", "seq", "actor", "type", "subject", "summary", "hash"].map((t) =>
              h("th", {}, t),
            ),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
    section(
      "Entities covered",
      h(
        "p",
        { id: "covered" },
        covered.map((ref) => [lineageLink(ref), " "]),
      ),
    ),
  );
}
