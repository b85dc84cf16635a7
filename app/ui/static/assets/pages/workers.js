// #/workers: is delivery keeping up? The queue, the group timers, the workers and what each is
// running, the send leases held, and every live process by role. alerter's own page.

import { api } from "../api.js";
import { facts, h, loadedPage, section, table } from "../dom.js";
import { humanDuration, localTime, relative } from "../time.js";

export const page = { title: "Workers", params: [], render };

function number(id, value) {
  return h("span", { id, text: String(value) });
}

function queueSection({ queue, timers }) {
  return section(
    "Queue and timers",
    facts([
      ["Jobs waiting", number("workers-waiting", queue.waiting)],
      ["Jobs running", number("workers-running", queue.running)],
      ["Jobs failed (kept 1h)", number("workers-failed", queue.failed)],
      ["Aggregation groups", number("workers-groups", timers.groups)],
      ["Timers overdue (over 1s)", h("span", {}, number("workers-overdue", timers.overdue), timers.overdue ? ` · most by ${humanDuration(timers.mostOverdueSeconds * 1000)}` : "")],
      ["Next timer due", timers.nextDueInSeconds === null ? "none armed" : `in ${humanDuration(timers.nextDueInSeconds * 1000)}`],
      ["Flushes in flight", number("workers-inflight", timers.inFlight)],
    ]),
  );
}

function workersSection(workers) {
  const rows = workers.map((w) =>
    h(
      "tr",
      { dataset: { state: w.state } },
      h("td", {}, h("code", { text: w.name })),
      h("td", { text: `${w.hostname}/${w.pid}` }),
      h("td", {}, h("span", { class: `badge badge-${w.state === "busy" ? "retrying" : "sent"}`, text: w.state })),
      h("td", { text: w.job || "—" }),
      h("td", { title: w.lastHeartbeat, text: w.lastHeartbeat ? relative(w.lastHeartbeat) : "—" }),
      h("td", { text: `${w.jobsDone} / ${w.jobsFailed}` }),
      h("td", { text: humanDuration(w.workingSeconds * 1000) }),
    ),
  );
  return section(
    `RQ workers (${workers.length})`,
    workers.length
      ? table(["Name", "Host/pid", "State", "Running", "Heartbeat", "Jobs done / failed", "Busy for"], rows, { id: "workers-table" })
      : h("p", { class: "error", text: "No worker is registered: nothing will be sent. Start `alerter worker`." }),
  );
}

function leasesSection(leases) {
  return section(
    `Send leases held (${leases.count})`,
    h("p", { class: "hint", text: "A lease is one notification being sent; its holder is the sending process's pid.token." }),
    leases.held.length
      ? table(
          ["Holder", "Expires in", "Lease"],
          leases.held.map((l) =>
            h("tr", {}, h("td", {}, h("code", { text: l.holder })), h("td", { text: humanDuration(l.expiresInSeconds * 1000) }), h("td", {}, h("code", { text: l.lease }))),
          ),
          { id: "workers-leases" },
        )
      : h("p", { class: "empty", text: "None: no notification is being sent right now." }),
  );
}

function processesSection(cluster) {
  if (cluster.status === "disabled") {
    return section("Processes", h("p", { text: "Embedded single node: one process does everything." }));
  }
  return section(
    `Processes (${cluster.peers.length})`,
    table(
      ["Name", "Role", "Address"],
      cluster.peers.map((p) => h("tr", { dataset: { role: p.role } }, h("td", {}, h("code", { text: p.name })), h("td", { text: p.role }), h("td", { text: p.address || "—" }))),
      { id: "workers-processes" },
    ),
  );
}

function render({ main }) {
  return loadedPage(
    main,
    "Workers",
    "workers",
    () => Promise.all([api("api/alerter/v1/workers"), api("api/v2/status")]),
    ([view, status]) => [
      queueSection(view),
      workersSection(view.workers),
      leasesSection(view.leases),
      processesSection(status.cluster),
      h("p", { class: "hint", text: `As of ${localTime(new Date())}.` }),
    ],
  );
}
