// Entry point: the token bar and the hash router (#/page/arg?query).
// Each page renders into <main>; body[data-state] says loading, ready or
// error, which is also what the browser tests wait on.

import { getToken, setToken } from "./api.js";
import { renderLineage } from "./lineage.js";
import { renderModel, renderModels } from "./models.js";
import { renderTimeline } from "./timeline.js";
import { renderVerify } from "./verify.js";

const PAGES = {
  models: renderModels,
  model: renderModel,
  timeline: renderTimeline,
  lineage: renderLineage,
  verify: renderVerify,
};

const page = document.getElementById("page");
const errorBox = document.getElementById("error");
let current = 0; // bumps on every navigation; a slower, older render is dropped

function showError(error) {
  errorBox.textContent = error?.message ?? String(error);
  errorBox.hidden = false;
  document.body.dataset.state = "error";
}

export function parseRoute(hash) {
  const raw = hash.replace(/^#\/?/, "");
  const cut = raw.indexOf("?");
  const path = cut < 0 ? raw : raw.slice(0, cut);
  const query = cut < 0 ? "" : raw.slice(cut + 1);
  // Refs hold "/" (deployment:fraud-detector/prod): everything after the
  // page name is the argument, encoded or not.
  const [name, ...rest] = path.split("/");
  return {
    name: name || "models",
    arg: decodeURIComponent(rest.join("/")),
    params: new URLSearchParams(query),
  };
}

async function route() {
  const mine = ++current;
  let name, arg, params;
  try {
    ({ name, arg, params } = parseRoute(location.hash));
  } catch {
    showError(`not a viewer address: ${location.hash}`); // e.g. a stray % in a pasted link
    return;
  }
  const render = PAGES[name];
  errorBox.hidden = true;
  document.body.dataset.state = "loading";
  document.body.dataset.page = name;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.page === (name === "model" ? "models" : name));
  }
  if (!render) {
    showError(`no page ${name}`);
    return;
  }
  // Render off-screen, then swap in one go, so a page never shows half-built.
  const next = document.createElement("div");
  try {
    await render(next, arg, params);
    if (mine !== current) return;
    page.replaceChildren(...next.childNodes);
    document.body.dataset.state = "ready";
  } catch (error) {
    if (mine === current) showError(error);
  }
}

function tokenBar() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  const describe = () => {
    state.textContent = getToken() ? "token set" : "anonymous";
  };
  input.value = getToken();
  describe();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(input.value);
    describe();
    route();
  });
}

// Handlers that run after a page is shown (forms, buttons) report here.
window.addEventListener("unhandledrejection", (event) => showError(event.reason));
window.addEventListener("hashchange", route);
tokenBar();
route();
