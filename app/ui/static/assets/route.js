// Alertmanager's fragment addresses: "#/alerts?receiver=a%20b&filter=%7B...%7D".

// "#/alerts?receiver=a+b" to the path and its parameters, decoded as a form is: "+" is a space,
// because notifications build this link with Go's urlquery (url.QueryEscape), which writes a
// space as "+" and a "+" as "%2B". Not URLSearchParams: it keeps a malformed %-escape as it is,
// where this says the address is broken.
export function parseHash(hash) {
  const text = hash.replace(/^#/, "");
  const q = text.indexOf("?");
  let path = q < 0 ? text : text.slice(0, q);
  path = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const params = new Map();
  const errors = [];
  for (const part of (q < 0 ? "" : text.slice(q + 1)).split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    try {
      const decode = (text) => decodeURIComponent(text.replace(/\+/g, " "));
      params.set(decode(eq < 0 ? part : part.slice(0, eq)), decode(eq < 0 ? "" : part.slice(eq + 1)));
    } catch {
      errors.push(`cannot decode "${part}" in the address`);
    }
  }
  return { path: path || "/", params, errors };
}

// "name=value&..." from [name, value] pairs (a name may repeat), leaving out empty values.
export function queryString(params) {
  return params
    .filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

// The fragment for a route and its non-empty parameters.
export function hashFor(path, params = []) {
  const query = queryString(params);
  return `#${path}${query ? `?${query}` : ""}`;
}
