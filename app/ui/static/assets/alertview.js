// One alert as the alert list, the silence preview and the silence pages show it.

import { badge, h, labelPills, outsideLink, safeUrl } from "./dom.js";
import { equalMatchers, filterText } from "./matchers.js";
import { hashFor } from "./route.js";
import { localTime, relative } from "./time.js";

export function silenceLinkFor(labels) {
  return hashFor("/silences/new", [["filter", filterText(equalMatchers(labels))]]);
}

function annotations(annos) {
  const names = Object.keys(annos || {}).sort();
  if (!names.length) return null;
  return h(
    "dl",
    { class: "annotations" },
    names.map((name) => [
      h("dt", { text: name }),
      h("dd", {}, safeUrl(annos[name]) ? outsideLink(annos[name]) : annos[name]),
    ]),
  );
}

function stateBadges(status) {
  const out = [];
  for (const id of status.silencedBy || []) {
    out.push(h("a", { class: "badge badge-silenced", href: hashFor(`/silences/${encodeURIComponent(id)}`), text: "silenced" }));
  }
  if ((status.inhibitedBy || []).length) out.push(badge("inhibited", "inhibited"));
  if ((status.mutedBy || []).length) out.push(badge(`muted by ${status.mutedBy.join(", ")}`, "muted"));
  return out;
}

// The full view: times, state, labels (those of the group shown once, in its header, so
// `skip` them), annotations, and the actions.
export function alertItem(alert, { onPick, skip, showReceivers } = {}) {
  const started = h("time", { datetime: alert.startsAt, title: localTime(alert.startsAt), text: `started ${relative(alert.startsAt)}` });
  const actions = h(
    "span",
    { class: "actions" },
    h("a", { class: "button small", href: silenceLinkFor(alert.labels), text: "Silence" }),
    alert.generatorURL ? outsideLink(alert.generatorURL, "Source") : null,
  );
  return h(
    "li",
    { class: "alert", dataset: { fingerprint: alert.fingerprint } },
    h("div", { class: "alert-head" }, started, stateBadges(alert.status), actions),
    showReceivers ? h("div", { class: "muted", text: `receivers: ${alert.receivers.map((r) => r.name).join(", ")}` }) : null,
    labelPills(alert.labels, onPick, skip),
    annotations(alert.annotations),
  );
}

// A short line per alert: its labels and when it started (previews, muted-alert lists).
export function compactAlertList(alerts, limit = 50) {
  return h(
    "ul",
    { class: "compact-alerts" },
    alerts.slice(0, limit).map((a) =>
      h("li", { dataset: { fingerprint: a.fingerprint } }, labelPills(a.labels), " ", h("span", { class: "muted", text: `started ${relative(a.startsAt)}` })),
    ),
    alerts.length > limit ? h("li", { class: "muted", text: `and ${alerts.length - limit} more` }) : null,
  );
}
