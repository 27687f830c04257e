// The model pages: the list of models, and one model with its versions,
// deployments, the selected version's evidence (version.js) and its history.

import { gql } from "./api.js";
import { formatTime, h, hashCell, lineageLink, section, seqLink, table } from "./dom.js";
import { summarise } from "./summary.js";
import { versionCard } from "./version.js";

const MODELS = `query Models {
  models(first: 100) {
    nodes { name owner riskTier retired deployments { ref environment version exposure } }
  }
  incidents: events(types: ["incident.opened"], first: 100) { nodes { seq subject occurredAt data } }
}`;

const MODEL = `query Model($name: String!) {
  model(name: $name) {
    name ref owner riskTier businessProcess description retired
    deployments {
      ref environment version stableVersion exposure strategy stageEnteredAt
      rollbackRequired openAlerts { alertId metric severity }
    }
    versions { ref version registeredAt author statuses { environment status exposure } }
  }
}`;

const HISTORY = `query History($name: String!, $after: String) {
  model(name: $name) {
    history(first: 50, after: $after) {
      nodes { seq type subject actor occurredAt hash data }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export async function renderModels(page) {
  const data = await gql(MODELS);
  const rows = data.models.nodes.map((model) =>
    h(
      "tr",
      { "data-model": model.name },
      h("td", {}, h("a", { href: `#/model/${encodeURIComponent(model.name)}` }, model.name)),
      h("td", {}, model.riskTier ?? ""),
      h("td", {}, model.owner ?? ""),
      h(
        "td",
        {},
        model.deployments.map((d) =>
          h(
            "span",
            { class: "pill" },
            `${d.environment}: ${d.version ?? "–"} @ ${d.exposure ?? 0}%`,
          ),
        ),
      ),
    ),
  );
  const incidents = data.incidents.nodes.map((event) =>
    h(
      "li",
      {},
      h(
        "a",
        { href: `#/timeline?subjects=${encodeURIComponent(event.subject)}&related=1` },
        event.subject,
      ),
      ` ${formatTime(event.occurredAt)} — ${event.data.summary ?? ""}`,
    ),
  );
  page.replaceChildren(
    h("h1", {}, "Models"),
    section(
      "Registered models",
      table(["model", "risk tier", "owner", "deployments"], rows, { id: "models" }),
    ),
    section(
      "Incidents",
      incidents.length
        ? h("ul", { id: "incidents" }, incidents)
        : h("p", { class: "muted" }, "none recorded"),
    ),
  );
}

function statusCell(version) {
  if (!version.statuses.length) return h("span", { class: "muted" }, "candidate");
  return version.statuses.map((s) =>
    h("span", { class: `pill status-${s.status}` }, `${s.environment}: ${s.status} ${s.exposure}%`),
  );
}

function deploymentRows(model) {
  return model.deployments.map((d) =>
    h(
      "tr",
      { "data-deployment": d.ref },
      h("td", {}, d.environment),
      h("td", {}, d.version ?? "–"),
      h("td", { class: "num" }, `${d.exposure ?? 0}%`),
      h("td", {}, d.strategy ?? ""),
      h("td", {}, d.stableVersion ?? ""),
      h("td", {}, formatTime(d.stageEnteredAt)),
      h(
        "td",
        {},
        d.rollbackRequired ? h("strong", { class: "bad" }, "rollback required ") : null,
        d.openAlerts.map((a) => h("span", { class: "pill alert" }, `${a.severity} ${a.metric}`)),
      ),
      h(
        "td",
        {},
        h("a", { href: `#/timeline?subjects=${encodeURIComponent(d.ref)}&related=1` }, "timeline"),
        " · ",
        lineageLink(d.ref, "lineage"),
      ),
    ),
  );
}

function historyRows(events) {
  return events.map((e) =>
    h(
      "tr",
      { "data-seq": e.seq },
      h("td", {}, seqLink(e.seq)),
      h("td", {}, formatTime(e.occurredAt)),
      h("td", {}, e.actor),
      h("td", {}, e.type),
      h("td", {}, lineageLink(e.subject)),
      h("td", {}, summarise(e)),
      h("td", {}, hashCell(e.hash)),
    ),
  );
}

async function historyCard(name) {
  const body = h("tbody", {});
  const more = h("button", { type: "button", hidden: true }, "Load more");
  let after = null;
  const load = async () => {
    const { model } = await gql(HISTORY, { name, after });
    body.append(...historyRows(model.history.nodes));
    after = model.history.pageInfo.endCursor;
    more.hidden = !model.history.pageInfo.hasNextPage;
  };
  more.addEventListener("click", () => load());
  await load();
  return section(
    "History",
    h(
      "table",
      { id: "history" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["seq", "occurred", "actor", "type", "subject", "summary", "hash"].map((t) =>
            h("th", {}, t),
          ),
        ),
      ),
      body,
    ),
    more,
  );
}

export async function renderModel(page, name, params) {
  const { model } = await gql(MODEL, { name });
  if (!model) {
    page.replaceChildren(h("h1", {}, name), h("p", { class: "muted" }, "No such model."));
    return;
  }
  const versions = model.versions;
  const chosen = params.get("version") ?? versions.at(-1)?.version;
  const versionRows = versions.map((v) =>
    h(
      "tr",
      { "data-version": v.version, class: v.version === chosen ? "selected" : null },
      h(
        "td",
        {},
        h(
          "a",
          {
            href: `#/model/${encodeURIComponent(model.name)}?version=${encodeURIComponent(v.version)}`,
          },
          v.version,
        ),
      ),
      h("td", {}, formatTime(v.registeredAt)),
      h("td", {}, v.author ?? ""),
      h("td", {}, statusCell(v)),
    ),
  );
  const chosenRef = versions.find((v) => v.version === chosen)?.ref;
  const [detail, history] = await Promise.all([
    chosenRef ? versionCard(chosenRef) : null,
    historyCard(model.name),
  ]);
  page.replaceChildren(
    h("h1", {}, model.name, model.retired ? h("span", { class: "pill" }, "retired") : null),
    h(
      "p",
      { class: "muted" },
      `owner ${model.owner ?? "?"} · risk tier ${model.riskTier ?? "?"}`,
      model.businessProcess ? ` · ${model.businessProcess}` : "",
    ),
    model.description ? h("p", {}, model.description) : null,
    section(
      "Where it runs",
      table(
        ["environment", "version", "exposure", "strategy", "stable", "since", "alerts", ""],
        deploymentRows(model),
        { id: "deployments" },
      ),
    ),
    section(
      "Versions",
      table(["version", "registered", "author", "status per environment"], versionRows, {
        id: "versions",
      }),
    ),
    detail,
    history,
  );
}
