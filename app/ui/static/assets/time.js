// Times as people read them in an incident: local wall-clock plus "how long ago".

const UNITS = [
  ["w", 7 * 86400e3],
  ["d", 86400e3],
  ["h", 3600e3],
  ["m", 60e3],
  ["s", 1e3],
  ["ms", 1],
];

function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

// "2026-11-30 17:04:05" in the browser's time zone.
export function localTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

// A duration in ms as "1d 2h", "3m 5s", "800ms": the two largest units are enough to read.
export function humanDuration(ms) {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)}ms`;
  let rest = Math.floor(abs / 1000) * 1000;
  const parts = [];
  for (const [unit, size] of UNITS.slice(1, 5)) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n) parts.push(`${n}${unit}`);
  }
  return parts.slice(0, 2).join(" ");
}

export function relative(iso, now = Date.now()) {
  const delta = new Date(iso).getTime() - now;
  if (Number.isNaN(delta)) return "";
  return delta <= 0 ? `${humanDuration(-delta)} ago` : `in ${humanDuration(delta)}`;
}

// A Prometheus-style duration ("2h", "1h30m", "3d") to ms; throws on anything else.
export function parseDuration(text) {
  const s = text.trim();
  const re = /(\d+)(ms|[smhdw])/gy;
  let total = 0;
  let matched = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS.find(([u]) => u === m[2])[1];
    matched = re.lastIndex;
  }
  if (!s || matched !== s.length) {
    throw new Error(`"${text}" is not a duration such as 2h, 1h30m or 3d`);
  }
  return total;
}

// ms to the shortest Prometheus-style duration ("1d2h", "90m" -> "1h30m").
export function formatDuration(ms) {
  if (ms <= 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of UNITS.slice(1)) {
    const n = Math.floor(rest / size);
    if (n) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

// An ISO 8601 / RFC 3339 time the user typed, to ms; throws with the expected form.
export function parseTime(text) {
  const t = Date.parse(text.trim());
  if (!text.trim() || Number.isNaN(t)) {
    throw new Error(`"${text}" is not a time such as 2026-01-31T14:00:00Z`);
  }
  return t;
}

// ms to RFC 3339 in UTC, whole seconds: what the silence form shows and sends.
export function isoSeconds(ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}
