// The page's router: Alertmanager's fragment routes (#/alerts?receiver=..., #/silences/new, ...)
// plus alerter's own (#/history, #/workers), and the refresh that keeps a page live.
//
// A route's query goes after the fragment's path, as in Alertmanager's links. Each page names
// the parameters it takes; an address with another one shows an error instead of a page that
// silently ignores part of what was asked.

import * as alerts from "./pages/alerts.js";
import * as history from "./pages/history.js";
import * as silenceForm from "./pages/silenceform.js";
import * as silences from "./pages/silences.js";
import * as status from "./pages/status.js";
import * as workers from "./pages/workers.js";
import { append, errorBox, fill, h } from "./dom.js";
import { parseHash } from "./route.js";
import { localTime } from "./time.js";

const ROUTES = [
  [/^\/alerts$/, alerts.page],
  [/^\/silences$/, silences.listPage],
  [/^\/silences\/new$/, silenceForm.newPage],
  [/^\/silences\/([^/]+)\/edit$/, silenceForm.editPage],
  [/^\/silences\/([^/]+)$/, silences.viewPage],
  [/^\/history$/, history.listPage],
  [/^\/history\/([^/]+)$/, history.groupPage],
  [/^\/workers$/, workers.page],
  [/^\/status$/, status.page],
];

const REFRESH_KEY = "alerter.refresh";
const main = document.getElementById("main");
const every = document.getElementById("refresh-every");
const refreshed = document.getElementById("refreshed");
let current = null; // {path, view: {refresh?}, busy}
let timer = null;

function notFound(path) {
  return h(
    "section",
    { class: "card" },
    h("h1", { text: "Page not found" }),
    h("p", { text: `There is no page at #${path}.` }),
    h("p", {}, h("a", { href: "#/alerts", text: "Go to the alerts" })),
  );
}

function highlightNav(path) {
  for (const link of document.querySelectorAll("nav a[data-route]")) {
    const on = path === link.dataset.route || path.startsWith(`${link.dataset.route}/`);
    if (on && path !== "/silences/new") link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function refresh(force = false) {
  const shown = current;
  if (!shown?.view.refresh || shown.busy || (!force && document.hidden)) return;
  shown.busy = true;
  try {
    await shown.view.refresh();
    if (current === shown) refreshed.textContent = `updated ${localTime(new Date())}`;
  } finally {
    shown.busy = false;
  }
}

function schedule() {
  clearInterval(timer);
  const seconds = Number(every.value);
  localStorage.setItem(REFRESH_KEY, String(seconds));
  timer = seconds ? setInterval(refresh, seconds * 1000) : null;
}

// Go to a fragment; the same one again reloads the page (hashchange would not fire).
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  const { path, params, errors } = parseHash(location.hash);
  if (path === "/") {
    location.replace("#/alerts");
    return;
  }
  // Re-rendering the same page (a filter applied) keeps the keyboard where it was.
  const focusId = current?.path === path ? document.activeElement?.id : null;
  current = null;
  refreshed.textContent = "";
  fill(main);
  highlightNav(path);
  let page = null;
  let args = [];
  for (const [pattern, candidate] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      page = candidate;
      args = m.slice(1).map(decodeURIComponent);
      break;
    }
  }
  if (!page) {
    document.title = "Not found - alerter";
    append(main, notFound(path));
    return;
  }
  document.title = `${page.title} - alerter`;
  const unknown = [...params.keys()].filter((k) => !page.params.includes(k));
  for (const name of unknown) {
    const takes = page.params.length ? page.params.join(", ") : "no parameters";
    errors.push(`unknown parameter "${name}" in the address (this page takes ${takes})`);
  }
  if (errors.length) {
    append(main, h("h1", { text: page.title }), errors.map((e) => errorBox(e)));
    append(main, h("p", {}, h("a", { href: `#${path}`, text: "Open the page without them" })));
    return;
  }
  const view = page.render({ main, params, args, go });
  current = { path, view, busy: false };
  if (focusId) document.getElementById(focusId)?.focus();
  refresh(true);
}

every.value = localStorage.getItem(REFRESH_KEY) ?? "15";
if (!every.value) every.value = "15";
every.addEventListener("change", schedule);
document.getElementById("refresh-now").addEventListener("click", () => refresh(true));
document.getElementById("skip").addEventListener("click", () => main.focus());
document.addEventListener("visibilitychange", () => document.hidden || refresh());
window.addEventListener("hashchange", route);
schedule();
route();
