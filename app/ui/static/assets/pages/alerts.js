// #/alerts: the alerts by aggregation group, as Alertmanager's alert list.
//
// Parameters are Alertmanager's: filter ({name="value", ...}), receiver (an anchored regex, as
// the API reads it; notifications link here with ?receiver=<name>), group and customGrouping
// (group by these labels instead of by route), and the silenced / inhibited / muted / active
// switches with Alertmanager's defaults (false, false, false, true).
//
// Fast with thousands of groups: the API's answer is kept and only GROUPS_PER_STEP groups (of at
// most ALERTS_PER_GROUP alerts each) are built at first; more are built as the list is scrolled.

import { alertItem, silenceLinkFor } from "../alertview.js";
import { api } from "../api.js";
import { field, filterInput, receiverSelect, searchForm } from "../controls.js";
import { append, errorBox, fill, h, labelPills } from "../dom.js";
import { equalMatchers, exactly, filterText, matcherText, parseFilter } from "../matchers.js";
import { hashFor } from "../route.js";

const GROUPS_PER_STEP = 50;
const ALERTS_PER_GROUP = 10;
const SWITCHES = [
  ["active", true, "Active"],
  ["silenced", false, "Silenced"],
  ["inhibited", false, "Inhibited"],
  ["muted", false, "Muted"],
];

export const page = {
  title: "Alerts",
  params: ["filter", "group", "customGrouping", "receiver", "silenced", "inhibited", "muted", "active"],
  render,
};

function readParams(params) {
  const errors = [];
  const state = { filter: params.get("filter") ?? "", receiver: params.get("receiver") ?? "", matchers: [] };
  try {
    state.matchers = parseFilter(state.filter);
  } catch (err) {
    errors.push(err.message);
  }
  for (const [name, fallback] of SWITCHES) {
    const value = params.get(name);
    if (value === undefined) state[name] = fallback;
    else if (/^(true|false)$/i.test(value)) state[name] = value.toLowerCase() === "true";
    else errors.push(`parameter ${name} must be true or false, not "${value}"`);
  }
  // Alertmanager writes group=<labels>&customGrouping=true; group alone means the same.
  state.group = (params.get("group") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (params.has("customGrouping") && !state.group.length) {
    errors.push("customGrouping needs group=<label names> to group by");
  }
  return { state, errors };
}

function toHash(values) {
  return hashFor("/alerts", [
    ["filter", values.filter],
    ["receiver", values.receiver],
    ["group", values.group],
    ["customGrouping", values.group ? "true" : ""],
    ...SWITCHES.map(([name, fallback]) => [name, values[name] === fallback ? "" : String(values[name])]),
  ]);
}

function controls(state, go) {
  const filter = filterInput("alerts-filter", state.filter);
  const group = h("input", { id: "alerts-group", type: "text", value: state.group.join(","), placeholder: "as routed", spellcheck: "false" });
  const apply = () => {
    const values = { filter: filter.value.trim(), receiver: receiver.value, group: group.value.replace(/\s/g, "") };
    for (const [name] of SWITCHES) values[name] = document.getElementById(`alerts-${name}`).checked;
    go(toHash(values));
  };
  const receiver = receiverSelect("alerts-receiver", state.receiver, apply);
  const switches = h(
    "fieldset",
    { class: "switches" },
    h("legend", { text: "Show" }),
    SWITCHES.map(([name, , label]) =>
      h("label", {}, h("input", { type: "checkbox", id: `alerts-${name}`, checked: state[name], onchange: apply }), ` ${label}`),
    ),
  );
  return searchForm(
    "alerts-controls",
    [field("Filter", filter), field("Receiver", receiver), field("Group by", group, "label names, comma-separated"), switches],
    apply,
  );
}

function render({ main, params, go }) {
  const { state, errors } = readParams(params);
  const results = h("div", { id: "alerts-results" }, h("p", { class: "muted", text: "Loading…" }));
  append(main, h("h1", { text: "Alerts" }), controls(state, go), results);
  if (errors.length) {
    fill(results, ...errors.map((e) => errorBox(e, "alerts-error")));
    return {};
  }
  const list = new GroupList(results, state, go);
  return { refresh: () => list.load() };
}

function apiParams(state) {
  return [
    ...state.matchers.map((m) => ["filter", matcherText(m)]),
    ["receiver", state.receiver || undefined],
    ["silenced", String(state.silenced)],
    ["inhibited", String(state.inhibited)],
    ["active", String(state.active)],
  ];
}

// Alerts grouped by the given labels, as Alertmanager's custom grouping does in the browser.
function groupBy(alerts, names) {
  const groups = new Map();
  for (const alert of alerts) {
    const labels = Object.fromEntries(names.map((n) => [n, alert.labels[n] ?? ""]));
    const key = JSON.stringify(labels);
    if (!groups.has(key)) groups.set(key, { labels, receiver: "", alerts: [] });
    groups.get(key).alerts.push(alert);
  }
  return [...groups.values()].sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));
}

class GroupList {
  constructor(root, state, go) {
    this.root = root;
    this.state = state;
    this.go = go;
    this.shown = GROUPS_PER_STEP;
    this.expanded = new Set(); // groups whose every alert is shown
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    });
  }

  async load() {
    const started = performance.now();
    const params = apiParams(this.state);
    let groups;
    try {
      if (this.state.group.length) {
        groups = groupBy(await api("api/v2/alerts", { params }), this.state.group);
      } else {
        groups = (await api("api/v2/alerts/groups", { params })).map((g) => ({ labels: g.labels, receiver: g.receiver.name, alerts: g.alerts }));
      }
    } catch (err) {
      fill(this.root, errorBox(err.message, "alerts-error"));
      return;
    }
    // The API has no switch for mutes by time interval: hide those here unless asked for.
    if (!this.state.muted) {
      groups = groups
        .map((g) => ({ ...g, alerts: g.alerts.filter((a) => !(a.status.mutedBy || []).length) }))
        .filter((g) => g.alerts.length);
    }
    this.groups = groups;
    this.draw();
    // User Timing entries, seen in the browser's performance tools and read by bench/ui: how
    // long this load took (fetch, parse, build), and once per page, when the list was first
    // painted (the frame after the build).
    performance.clearMeasures("alerts-load");
    performance.measure("alerts-load", { start: started });
    if (!performance.getEntriesByName("alerts-rendered").length) {
      requestAnimationFrame(() => setTimeout(() => performance.mark("alerts-rendered")));
    }
  }

  pick(name, value) {
    const matchers = this.state.matchers.filter((m) => m.name !== name);
    matchers.push({ name, op: "=", value });
    this.go(toHash({ ...this.state, filter: filterText(matchers), group: this.state.group.join(",") }));
  }

  draw() {
    this.observer.disconnect();
    const total = this.groups.reduce((n, g) => n + g.alerts.length, 0);
    const count = h("p", {
      id: "alerts-summary",
      class: "summary",
      dataset: { groups: this.groups.length, alerts: total },
      text: `${this.groups.length} ${this.groups.length === 1 ? "group" : "groups"}, ${total} ${total === 1 ? "alert" : "alerts"}`,
    });
    this.list = h("div", { id: "alert-groups", class: "groups" });
    fill(this.root, count, this.list);
    if (!this.groups.length) {
      append(this.list, h("p", { class: "empty", text: "No alerts match." }));
      return;
    }
    this.drawn = 0;
    this.moreButton = null;
    this.extend();
  }

  more() {
    this.shown += GROUPS_PER_STEP;
    this.extend();
  }

  extend() {
    const end = Math.min(this.shown, this.groups.length);
    for (; this.drawn < end; this.drawn++) append(this.list, this.groupView(this.groups[this.drawn]));
    this.moreButton?.remove();
    this.moreButton = null;
    const left = this.groups.length - this.drawn;
    if (left > 0) {
      this.moreButton = h("button", { type: "button", class: "more", id: "alerts-more", text: `Show more groups (${left} not shown)`, onclick: () => this.more() });
      this.list.after(this.moreButton);
      this.observer.observe(this.moreButton);
    }
  }

  groupView(group) {
    const key = `${group.receiver}\u0000${JSON.stringify(group.labels)}`;
    const all = this.expanded.has(key);
    const alerts = all ? group.alerts : group.alerts.slice(0, ALERTS_PER_GROUP);
    const pick = (n, v) => this.pick(n, v);
    const groupLabels = new Set(Object.keys(group.labels));
    const ul = h("ul", { class: "alerts" }, alerts.map((a) => alertItem(a, { onPick: pick, skip: groupLabels, showReceivers: !group.receiver })));
    const node = h(
      "section",
      { class: "group card", dataset: { receiver: group.receiver } },
      h(
        "header",
        { class: "group-head" },
        Object.keys(group.labels).length ? labelPills(group.labels, pick) : h("span", { class: "muted", text: "no grouping labels" }),
        group.receiver ? h("span", { class: "receiver", text: `receiver: ${group.receiver}` }) : null,
        h("span", { class: "count", text: `${group.alerts.length} ${group.alerts.length === 1 ? "alert" : "alerts"}` }),
        h(
          "span",
          { class: "actions" },
          h("a", { class: "button small", href: silenceLinkFor(group.labels), text: "Silence group" }),
          group.receiver
            ? h("a", {
                class: "button small",
                href: hashFor("/history", [["receiver", exactly(group.receiver)], ["filter", filterText(equalMatchers(group.labels))]]),
                text: "History",
              })
            : null,
        ),
      ),
      ul,
    );
    if (!all && group.alerts.length > ALERTS_PER_GROUP) {
      append(node,
        h("button", {
          type: "button",
          class: "more",
          text: `Show all ${group.alerts.length} alerts`,
          onclick: () => {
            this.expanded.add(key);
            node.replaceWith(this.groupView(group));
          },
        }),
      );
    }
    return node;
  }
}
