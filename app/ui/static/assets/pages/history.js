// #/history: the groups alerter has tried to notify, latest first; #/history/<group id>: one
// group's delivery attempts (when, to which integration, from which worker, retries, failures)
// and what each integration was last told. alerter's own pages: Alertmanager keeps no such record.

import { api } from "../api.js";
import { field, filterInput, receiverSelect, searchForm } from "../controls.js";
import { append, errorBox, facts, fill, h, labelPills, loadedPage, section, table } from "../dom.js";
import { equalMatchers, exactly, filterText, matcherText, parseFilter } from "../matchers.js";
import { hashFor } from "../route.js";
import { localTime, relative } from "../time.js";

const ROWS_PER_STEP = 100;

export const listPage = { title: "Notification history", params: ["filter", "receiver"], render: renderList };
export const groupPage = { title: "Notification history", params: [], render: renderGroup };

function outcome(attempt) {
  return h("span", { class: `badge badge-${attempt.outcome}`, text: attempt.outcome });
}

function when(iso) {
  return h("time", { datetime: iso, title: iso, text: `${localTime(iso)} (${relative(iso)})` });
}

function target(a) {
  return `${a.integration}[${a.index}]`;
}

function renderList({ main, params, go }) {
  const text = params.get("filter") ?? "";
  const receiver = params.get("receiver") ?? "";
  const input = filterInput("history-filter", text);
  const apply = () => go(hashFor("/history", [["filter", input.value.trim()], ["receiver", select.value]]));
  const select = receiverSelect("history-receiver", receiver, apply);
  const results = h("div", { id: "history-results" }, h("p", { class: "muted", text: "Loading…" }));
  append(main,
    h("h1", { text: "Notification history" }),
    h("p", { class: "hint", text: "Every delivery attempt alerter made, per aggregation group; the last 30 per group are kept." }),
    searchForm("history-controls", [field("Group labels", input), field("Receiver", select)], apply),
    results,
  );
  let matchers;
  try {
    matchers = parseFilter(text);
  } catch (err) {
    fill(results, errorBox(err.message, "history-error"));
    return {};
  }
  let shown = ROWS_PER_STEP;
  const refresh = async () => {
    let groups;
    try {
      const query = [...matchers.map((m) => ["filter", matcherText(m)]), ["receiver", receiver || undefined]];
      ({ groups } = await api("api/alerter/v1/history", { params: query }));
    } catch (err) {
      fill(results, errorBox(err.message, "history-error"));
      return;
    }
    const rows = groups.slice(0, shown).map((g) =>
      h(
        "tr",
        { dataset: { group: g.id } },
        h("td", {}, h("a", { href: hashFor(`/history/${g.id}`), class: "group-link", text: filterText(equalMatchers(g.labels)) || "(no labels)" })),
        h("td", { text: g.receiver }),
        h("td", {}, g.latest ? when(g.latest.at) : "—"),
        h("td", {}, g.latest ? [outcome(g.latest), ` attempt ${g.latest.attempt}`] : "—"),
        h("td", { text: g.latest ? target(g.latest) : "—" }),
        h("td", { text: g.latest ? g.latest.worker : "—" }),
      ),
    );
    fill(results,
      h("p", { class: "summary", id: "history-summary", text: `${groups.length} ${groups.length === 1 ? "group" : "groups"}` }),
      groups.length
        ? table(["Group", "Receiver", "Latest attempt", "Outcome", "Integration", "Worker"], rows, { id: "history-groups" })
        : h("p", { class: "empty", text: "No notification recorded for these groups." }),
      groups.length > shown
        ? h("button", {
            type: "button",
            class: "more",
            text: `Show more (${groups.length - shown} not shown)`,
            onclick: () => {
              shown += ROWS_PER_STEP;
              refresh();
            },
          })
        : null,
    );
  };
  return { refresh };
}

function renderGroup({ main, args }) {
  const [gid] = args;
  const load = () => api(`api/alerter/v1/history/${encodeURIComponent(gid)}`);
  return loadedPage(main, "Notification history", "history-group", load, ({ group, attempts, log }) => {
    const alertsLink = hashFor("/alerts", [["receiver", exactly(group.receiver)], ["filter", filterText(equalMatchers(group.labels))]]);
    return [
      section(
        "Group",
        facts([
          ["Labels", labelPills(group.labels)],
          ["Receiver", group.receiver],
          ["Group key", h("code", { text: group.groupKey })],
          ["Alerts", h("a", { href: alertsLink, text: "Show this group's alerts" })],
        ]),
      ),
      section(
        "Last notification per integration",
        log.length
          ? table(
              ["Integration", "Sent", "Firing", "Resolved", "Forgotten after"],
              log.map((e) =>
                h(
                  "tr",
                  {},
                  h("td", { text: `${e.receiver} / ${target(e)}` }),
                  h("td", {}, when(e.sentAt)),
                  h("td", { text: String(e.firing.length) }),
                  h("td", { text: String(e.resolved.length) }),
                  h("td", { text: localTime(e.expiresAt) }),
                ),
              ),
              { id: "history-log" },
            )
          : h("p", { class: "empty", text: "The notification log holds nothing for this group now." }),
      ),
      section(
        `Delivery attempts (${attempts.length}, newest first)`,
        table(
          ["Time", "Integration", "Attempt", "Outcome", "Alerts", "Worker", "Error"],
          attempts.map((a) =>
            h(
              "tr",
              { dataset: { outcome: a.outcome } },
              h("td", {}, when(a.at)),
              h("td", { text: `${a.receiver} / ${target(a)}` }),
              h("td", { text: String(a.attempt) }),
              h("td", {}, outcome(a)),
              h("td", { text: `${a.firing} firing, ${a.resolved} resolved` }),
              h("td", {}, h("code", { text: a.worker })),
              h("td", { class: "error-text", text: a.error }),
            ),
          ),
          { id: "history-attempts" },
        ),
      ),
    ];
  });
}
