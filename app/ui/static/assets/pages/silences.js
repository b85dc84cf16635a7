// #/silences (by state, with the alerts each one mutes, expire, edit) and #/silences/<id>.

import { compactAlertList } from "../alertview.js";
import { api } from "../api.js";
import { field, filterInput, searchForm } from "../controls.js";
import { append, errorBox, facts, fill, h } from "../dom.js";
import { filterText, fromApi, matcherText, parseFilter } from "../matchers.js";
import { hashFor } from "../route.js";
import { localTime, relative } from "../time.js";

const STATES = ["active", "pending", "expired"];

export const listPage = { title: "Silences", params: ["filter"], render: renderList };
export const viewPage = { title: "Silence", params: [], render: renderView };

// Every alert a silence (or inhibition) suppresses, by silence id: one request for all the
// silences shown, asking the API for suppressed alerts only.
async function mutedBySilence() {
  const alerts = await api("api/v2/alerts", { params: [["active", "false"], ["silenced", "true"], ["inhibited", "true"]] });
  const by = new Map();
  for (const alert of alerts) {
    for (const id of alert.status.silencedBy || []) {
      if (!by.has(id)) by.set(id, []);
      by.get(id).push(alert);
    }
  }
  return by;
}

function matcherPills(silence) {
  return h(
    "span",
    { class: "pills" },
    silence.matchers.map((m) => h("span", { class: "pill matcher", text: matcherText(fromApi(m)) })),
  );
}

function recreateLink(silence) {
  return hashFor("/silences/new", [
    ["filter", filterText(silence.matchers.map(fromApi))],
    ["comment", silence.comment],
  ]);
}

// Expire needs a second, deliberate press: a stray click must not unmute alerts mid-incident.
function expireControl(silence, done) {
  const box = h("span", { class: "expire" });
  const ask = () => {
    const confirm = h("button", {
      type: "button",
      class: "danger",
      text: "Confirm expire",
      onclick: async () => {
        try {
          await api(`api/v2/silence/${encodeURIComponent(silence.id)}`, { method: "DELETE" });
          done();
        } catch (err) {
          append(box, errorBox(err.message));
        }
      },
    });
    box.dataset.confirming = "true"; // the list's refresh leaves the page alone meanwhile
    fill(box, confirm, h("button", { type: "button", text: "Cancel", onclick: reset }));
    confirm.focus();
  };
  const reset = () => {
    delete box.dataset.confirming;
    fill(box, h("button", { type: "button", class: "danger", text: "Expire", onclick: ask }));
  };
  reset();
  return box;
}

function actions(silence, done) {
  const id = encodeURIComponent(silence.id);
  return h(
    "span",
    { class: "actions" },
    h("a", { class: "button small", href: hashFor(`/silences/${id}`), text: "View" }),
    silence.status.state === "expired"
      ? h("a", { class: "button small", href: recreateLink(silence), text: "Recreate" })
      : [h("a", { class: "button small", href: hashFor(`/silences/${id}/edit`), text: "Edit" }), expireControl(silence, done)],
  );
}

function when(silence) {
  const state = silence.status.state;
  if (state === "pending") return `starts ${relative(silence.startsAt)} (${localTime(silence.startsAt)})`;
  if (state === "expired") return `ended ${relative(silence.endsAt)} (${localTime(silence.endsAt)})`;
  return `ends ${relative(silence.endsAt)} (${localTime(silence.endsAt)})`;
}

function silenceCard(silence, muted, done, opened) {
  const details = h(
    "details",
    { class: "muted-alerts", open: opened.has(silence.id), ontoggle: (e) => (e.target.open ? opened.add(silence.id) : opened.delete(silence.id)) },
    h("summary", { text: `${muted.length} ${muted.length === 1 ? "alert" : "alerts"} muted` }),
  );
  if (muted.length) append(details, compactAlertList(muted));
  return h(
    "article",
    { class: "silence card", dataset: { id: silence.id, state: silence.status.state } },
    h("div", { class: "silence-head" }, matcherPills(silence), actions(silence, done)),
    h("p", { class: "muted", text: `${when(silence)} · created by ${silence.createdBy}` }),
    silence.comment ? h("p", { class: "comment", text: silence.comment }) : null,
    silence.status.state === "expired" ? null : details,
  );
}

function renderList({ main, params, go }) {
  const text = params.get("filter") ?? "";
  const input = filterInput("silences-filter", text);
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Silence state" });
  const results = h("div", { id: "silences-results" }, h("p", { class: "muted", text: "Loading…" }));
  append(main,
    h("h1", { text: "Silences" }),
    searchForm("silences-controls", [field("Filter", input)], () => go(hashFor("/silences", [["filter", input.value.trim()]]))),
    tabs,
    results,
  );
  let matchers;
  try {
    matchers = parseFilter(text);
  } catch (err) {
    fill(results, errorBox(err.message, "silences-error"));
    return {};
  }
  let chosen = "active";
  let loaded = null;
  const opened = new Set(); // silences whose muted alerts are unfolded, kept across refreshes
  const draw = () => {
    const { silences, muted } = loaded;
    fill(tabs,
      STATES.map((state) =>
        h("button", {
          type: "button",
          id: `silences-tab-${state}`,
          "aria-pressed": String(state === chosen),
          text: `${state[0].toUpperCase()}${state.slice(1)} (${silences.filter((s) => s.status.state === state).length})`,
          onclick: () => {
            chosen = state;
            draw();
          },
        }),
      ),
    );
    const shown = silences.filter((s) => s.status.state === chosen);
    fill(results,
      shown.length
        ? shown.map((s) => silenceCard(s, muted.get(s.id) || [], () => load(true), opened))
        : h("p", { class: "empty", text: `No ${chosen} silences.` }),
    );
  };
  const load = async (force) => {
    try {
      const [silences, muted] = await Promise.all([
        api("api/v2/silences", { params: matchers.map((m) => ["filter", matcherText(m)]) }),
        mutedBySilence(),
      ]);
      loaded = { silences, muted };
      if (force || !results.querySelector("[data-confirming]")) draw();
    } catch (err) {
      fill(results, errorBox(err.message, "silences-error"));
    }
  };
  return { refresh: () => load(false) };
}

function renderView({ main, args }) {
  const [id] = args;
  const body = h("div", { id: "silence-view" }, h("p", { class: "muted", text: "Loading…" }));
  append(main, h("h1", { text: "Silence" }), body);
  const refresh = async (force) => {
    if (!force && body.querySelector("[data-confirming]")) return;
    let silence;
    let muted;
    try {
      [silence, muted] = await Promise.all([api(`api/v2/silence/${encodeURIComponent(id)}`), mutedBySilence()]);
    } catch (err) {
      fill(body, errorBox(err.message, "silence-error"));
      return;
    }
    const alerts = muted.get(silence.id) || [];
    fill(body,
      h(
        "section",
        { class: "card" },
        h("div", { class: "silence-head" }, matcherPills(silence), actions(silence, () => refresh(true))),
        facts([
          ["ID", h("code", { text: silence.id })],
          ["State", h("span", { id: "silence-state", class: `badge badge-${silence.status.state}`, text: silence.status.state })],
          ["Starts", `${localTime(silence.startsAt)} (${relative(silence.startsAt)})`],
          ["Ends", `${localTime(silence.endsAt)} (${relative(silence.endsAt)})`],
          ["Updated", localTime(silence.updatedAt)],
          ["Created by", silence.createdBy],
          ["Comment", h("span", { class: "comment", text: silence.comment })],
        ]),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", { text: `Muted alerts (${alerts.length})` }),
        alerts.length ? compactAlertList(alerts, 500) : h("p", { class: "empty", text: "This silence mutes no alert now." }),
      ),
    );
  };
  return { refresh: () => refresh(false) };
}
