// #/status: version, uptime, every live process of the cluster, the Redis behind it, the config.

import { api } from "../api.js";
import { facts, h, loadedPage, section, table } from "../dom.js";
import { humanDuration, localTime } from "../time.js";

export const page = { title: "Status", params: [], render };

function versionSection(status) {
  const v = status.versionInfo;
  return section(
    "Version",
    facts([
      ["Version", h("span", { id: "status-version", text: v.version })],
      v.revision ? ["Revision", v.revision] : null,
      v.branch ? ["Branch", v.branch] : null,
      v.buildDate ? ["Built", `${v.buildDate}${v.buildUser ? ` by ${v.buildUser}` : ""}`] : null,
      ["Runtime", v.goVersion],
      ["Started", `${localTime(status.uptime)} (up ${humanDuration(Date.now() - Date.parse(status.uptime))})`],
    ]),
  );
}

function clusterSection(cluster) {
  if (cluster.status === "disabled") {
    return section(
      "Cluster",
      h("p", { id: "status-cluster-state", text: "Embedded single node: web, timers and workers run in this one process, on its in-process Redis." }),
    );
  }
  const own = cluster.peers.find((p) => p.name === cluster.name);
  const rows = cluster.peers.map((p) =>
    h(
      "tr",
      { dataset: { role: p.role } },
      h("td", {}, h("code", { text: p.name }), p.name === cluster.name ? " (this process)" : ""),
      h("td", { text: p.role }),
      h("td", { text: p.address || "—" }),
      h("td", {}, h("code", { text: p.configHash }), own && p.configHash !== own.configHash ? h("span", { class: "badge badge-failed", text: "config differs" }) : ""),
    ),
  );
  const roles = ["all", "web", "worker"].map((r) => [r, cluster.peers.filter((p) => p.role === r).length]).filter(([, n]) => n);
  return section(
    "Cluster",
    facts([
      ["Status", h("span", { id: "status-cluster-state", text: cluster.status })],
      ["This process", h("code", { text: cluster.name })],
      ["Live processes", roles.map(([r, n]) => `${n} ${r}`).join(", ") || "none"],
    ]),
    table(["Name", "Role", "Address", "Config hash"], rows, { id: "status-peers" }),
  );
}

function redisSection(redis) {
  if (redis.mode === "embedded") {
    return section(
      "Redis",
      facts([
        ["Mode", h("span", { id: "status-redis-mode", text: "embedded (in-process)" })],
        ["State saved under", h("code", { text: redis.storagePath })],
      ]),
    );
  }
  return section(
    "Redis",
    facts([
      ["Mode", h("span", { id: "status-redis-mode", text: redis.mode })],
      ["Address", h("code", { text: redis.address })],
      ["Role", h("span", { id: "status-redis-role", text: redis.role })],
      ["Version", redis.version],
      ["Replicas connected", String(redis.connectedReplicas)],
      ["Memory used", `${(redis.usedMemoryBytes / 1048576).toFixed(1)} MiB`],
      ["Up for", humanDuration(redis.uptimeSeconds * 1000)],
      redis.sentinel ? ["Sentinel service", redis.sentinel.service] : null,
      redis.sentinel ? ["Master named by Sentinel", h("code", { id: "status-sentinel-master", text: redis.sentinel.master })] : null,
      redis.sentinel ? ["Sentinels", redis.sentinel.sentinels.join(", ")] : null,
    ]),
  );
}

function render({ main }) {
  return loadedPage(
    main,
    "Status",
    "status",
    () => Promise.all([api("api/v2/status"), api("api/alerter/v1/redis")]),
    ([status, redis]) => [
      versionSection(status),
      clusterSection(status.cluster),
      redisSection(redis),
      section(
        "Config",
        h("p", { class: "hint", text: "The configuration in effect, defaults filled in; secrets show as <secret>." }),
        h("pre", { class: "config" }, h("code", { id: "status-config", text: status.config.original })),
      ),
    ],
  );
}
