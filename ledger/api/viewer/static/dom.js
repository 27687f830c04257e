// Element builders. Text always goes in as text nodes (never innerHTML), so
// event payloads cannot inject markup into the page.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function shortHash(hash) {
  return hash ? `${hash.slice(0, 12)}…` : "";
}

// A hash shown short, with the whole value one hover (or copy) away.
export function hashCell(hash) {
  return h("code", { class: "hash", title: hash }, shortHash(hash));
}

export function table(headings, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headings.map((text) => h("th", {}, text)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), children);
}

// Links into the other pages, so every entity and seq is one click away.
export function lineageLink(ref, text = ref) {
  return h("a", { href: `#/lineage/${encodeURIComponent(ref)}`, class: "ref" }, text);
}

export function seqLink(seq) {
  return h("a", { href: `#/verify?seq=${seq}`, class: "seq", title: "verify its inclusion" }, seq);
}

export function formatTime(iso) {
  // The ledger's times are RFC 3339 UTC with microseconds; minutes suffice to read.
  return iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "Z") : "";
}
