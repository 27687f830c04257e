// The lineage graph: what an entity depends on (left) and what depends on it
// (right), as the graph stood at a chosen time. Clicking a node re-centres
// the graph on it. The layout is layered by hop distance from the centre.

import { gql } from "./api.js";
import { h, s } from "./dom.js";

const LINEAGE = `query Lineage($ref: String!, $depth: Int!, $asOf: AsOf, $up: Boolean!,
    $down: Boolean!) {
  up: lineage(ref: $ref, direction: UPSTREAM, depth: $depth, asOf: $asOf) @include(if: $up) {
    nodes { ref kind } edges { source target relation seq }
  }
  down: lineage(ref: $ref, direction: DOWNSTREAM, depth: $depth, asOf: $asOf)
      @include(if: $down) {
    nodes { ref kind } edges { source target relation seq }
  }
}`;

// Which sides of the centre to draw (`direction` in the address).
const DIRECTIONS = {
  both: "upstream and downstream",
  upstream: "upstream only",
  downstream: "downstream only",
};
const NONE = { nodes: [], edges: [] };

function directionOf(params) {
  const wanted = params.get("direction");
  return Object.hasOwn(DIRECTIONS, wanted) ? wanted : "both";
}

const COLUMN = 370;
const ROW = 52;
const NODE_W = 310;
const NODE_H = 34;
const MAX_LABEL = 39;

// Hops from the centre over edges taken either way: the server already chose
// which edges are upstream (or downstream), so direction only matters there.
function distances(centre, edges) {
  const neighbours = new Map();
  for (const { source, target } of edges) {
    if (!neighbours.has(source)) neighbours.set(source, []);
    if (!neighbours.has(target)) neighbours.set(target, []);
    neighbours.get(source).push(target);
    neighbours.get(target).push(source);
  }
  const hops = new Map([[centre, 0]]);
  const queue = [centre];
  while (queue.length) {
    const ref = queue.shift();
    for (const next of neighbours.get(ref) ?? []) {
      if (!hops.has(next)) {
        hops.set(next, hops.get(ref) + 1);
        queue.push(next);
      }
    }
  }
  return hops;
}

// Column per node: negative upstream, positive downstream, 0 the centre.
export function layout(centre, up, down) {
  const columns = new Map([[centre, 0]]);
  const kinds = new Map();
  for (const node of [...up.nodes, ...down.nodes]) kinds.set(node.ref, node.kind);
  for (const [ref, d] of distances(centre, down.edges)) if (d > 0) columns.set(ref, d);
  // Upstream wins a tie: a node on both sides is drawn where it is depended on.
  for (const [ref, d] of distances(centre, up.edges)) if (d > 0) columns.set(ref, -d);
  for (const node of [...up.nodes, ...down.nodes]) {
    if (!columns.has(node.ref)) columns.set(node.ref, up.nodes.includes(node) ? -1 : 1);
  }
  const byColumn = new Map();
  for (const [ref, col] of columns) {
    if (!byColumn.has(col)) byColumn.set(col, []);
    byColumn.get(col).push(ref);
  }
  const cols = [...byColumn.keys()].sort((a, b) => a - b);
  const minCol = cols[0];
  const tallest = Math.max(...[...byColumn.values()].map((refs) => refs.length));
  const positions = new Map();
  for (const col of cols) {
    const refs = byColumn
      .get(col)
      .sort((a, b) => (kinds.get(a) ?? "").localeCompare(kinds.get(b) ?? "") || a.localeCompare(b));
    const offset = ((tallest - refs.length) * ROW) / 2;
    refs.forEach((ref, i) => {
      positions.set(ref, { x: 20 + (col - minCol) * COLUMN, y: 20 + offset + i * ROW, col });
    });
  }
  const seen = new Set();
  const edges = [...up.edges, ...down.edges].filter((e) => {
    const key = `${e.source} ${e.relation} ${e.target}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return positions.has(e.source) && positions.has(e.target);
  });
  return {
    positions,
    kinds,
    edges,
    width: 40 + (cols.at(-1) - minCol) * COLUMN + NODE_W,
    height: 40 + tallest * ROW,
  };
}

function edgePath(a, b) {
  // Leave from the side facing the other node; same-column edges bow out right.
  if (a.col === b.col) {
    const x = a.x + NODE_W;
    return `M${x},${a.y + NODE_H / 2} C${x + 60},${a.y + NODE_H / 2} ${x + 60},${b.y + NODE_H / 2} ${x},${b.y + NODE_H / 2}`;
  }
  const leftToRight = a.x < b.x;
  const x1 = leftToRight ? a.x + NODE_W : a.x;
  const x2 = leftToRight ? b.x : b.x + NODE_W;
  const y1 = a.y + NODE_H / 2;
  const y2 = b.y + NODE_H / 2;
  const mid = (x1 + x2) / 2;
  return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
}

function label(ref) {
  return ref.length > MAX_LABEL ? `${ref.slice(0, MAX_LABEL - 1)}…` : ref;
}

export function graph(centre, shape, onPick) {
  const { positions, kinds, edges, width, height } = shape;
  const lines = edges.map((e) => {
    const a = positions.get(e.source);
    const b = positions.get(e.target);
    return s(
      "path",
      {
        class: `edge rel-${e.relation}`,
        d: edgePath(a, b),
        "marker-end": "url(#arrow)",
        "data-seq": e.seq,
      },
      s("title", {}, `${e.source} ${e.relation} ${e.target} (seq ${e.seq})`),
    );
  });
  const nodes = [...positions].map(([ref, p]) => {
    const node = s(
      "g",
      {
        class: `node kind-${kinds.get(ref) ?? "other"}${ref === centre ? " centre" : ""}`,
        "data-ref": ref,
        transform: `translate(${p.x},${p.y})`,
        tabindex: 0,
        role: "link",
        "aria-label": `centre on ${ref}`,
      },
      s("rect", { width: NODE_W, height: NODE_H, rx: 6 }),
      s("text", { x: 10, y: 22 }, label(ref)),
      s("title", {}, ref),
    );
    node.addEventListener("click", () => onPick(ref));
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter") onPick(ref);
    });
    return node;
  });
  return s(
    "svg",
    { id: "graph", class: "graph", width, height, viewBox: `0 0 ${width} ${height}` },
    s(
      "defs",
      {},
      s(
        "marker",
        {
          id: "arrow",
          viewBox: "0 0 10 10",
          refX: 10,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: "auto-start-reverse",
        },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }),
      ),
    ),
    lines,
    nodes,
  );
}

function hashFor(ref, params) {
  const query = params.toString();
  return `#/lineage/${encodeURIComponent(ref)}${query ? `?${query}` : ""}`;
}

function controls(ref, params) {
  const refInput = h("input", {
    name: "ref",
    size: 44,
    value: ref,
    required: true,
    placeholder: "model:<name>@<version>",
  });
  const asOf = h("input", {
    name: "asOf",
    type: "datetime-local",
    value: (params.get("asOf") ?? "").slice(0, 16),
  });
  const depth = h("input", {
    name: "depth",
    type: "number",
    min: 1,
    max: 10,
    value: params.get("depth") ?? "2",
  });
  const chosen = directionOf(params);
  const direction = h(
    "select",
    { name: "direction" },
    Object.entries(DIRECTIONS).map(([value, text]) =>
      h("option", { value, selected: value === chosen }, text),
    ),
  );
  const form = h(
    "form",
    { id: "lineage-form", class: "controls" },
    h("label", {}, "Entity ", refInput),
    h("label", {}, "As of (UTC) ", asOf),
    h("label", {}, "Depth ", depth),
    h("label", {}, "Show ", direction),
    h("button", { type: "submit" }, "Show"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (asOf.value) next.set("asOf", `${asOf.value}:00Z`);
    next.set("depth", depth.value || "2");
    if (direction.value !== "both") next.set("direction", direction.value);
    location.hash = hashFor(refInput.value.trim(), next);
  });
  return form;
}

function links(ref) {
  const model = /^model:([^@]+)(?:@(.+))?$/.exec(ref);
  return h(
    "p",
    { class: "links" },
    model
      ? h(
          "a",
          {
            href: `#/model/${encodeURIComponent(model[1])}${model[2] ? `?version=${encodeURIComponent(model[2])}` : ""}`,
          },
          "model page",
        )
      : null,
    model ? " · " : null,
    h("a", { href: `#/timeline?subjects=${encodeURIComponent(ref)}&related=1` }, "timeline"),
  );
}

export async function renderLineage(page, ref, params) {
  if (!ref) {
    page.replaceChildren(
      h("h1", {}, "Lineage"),
      controls("", params),
      h("p", { class: "muted" }, "Name an entity, e.g. model:fraud-detector@1.4.0."),
    );
    return;
  }
  const asOf = params.get("asOf");
  const depth = Math.min(10, Math.max(1, Number(params.get("depth") ?? 2) || 2));
  const direction = directionOf(params);
  const data = await gql(LINEAGE, {
    ref,
    depth,
    asOf: asOf ? { time: asOf } : null,
    up: direction !== "downstream",
    down: direction !== "upstream",
  });
  const shape = layout(ref, data.up ?? NONE, data.down ?? NONE);
  const pick = (next) => {
    location.hash = hashFor(next, params);
  };
  page.replaceChildren(
    h("h1", {}, "Lineage of ", h("code", { id: "centre" }, ref)),
    controls(ref, params),
    links(ref),
    h(
      "p",
      { class: "muted" },
      `${shape.positions.size} entities, ${shape.edges.length} edges, ${DIRECTIONS[direction]}`,
      `${asOf ? ` as of ${asOf}` : ""}. `,
      "Upstream (what it depends on) is to the left, downstream to the right. Click a node to centre on it.",
    ),
    h("div", { class: "graph-frame" }, graph(ref, shape, pick)),
  );
}
