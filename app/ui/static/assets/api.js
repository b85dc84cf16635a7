// Calls to alerter's APIs, relative to the page so that any --web.route-prefix works; the
// browser sends its credentials for this origin along (basic auth behind --web.config.file).

import { queryString } from "./route.js";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// `params`: [name, value] pairs (a name may repeat, as `filter` does).
export function apiUrl(path, params = []) {
  const query = queryString(params);
  return query ? `${path}?${query}` : path;
}

// The API's answer as JSON; a refusal throws ApiError with the API's own message (Alertmanager
// answers errors with the message as a JSON string), so forms can show it as it is.
export async function api(path, { params = [], method = "GET", body } = {}) {
  let response;
  try {
    response = await fetch(apiUrl(path, params), {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach alerter: ${err.message}`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message = typeof data === "string" && data ? data : response.statusText || "request failed";
    throw new ApiError(response.status, `${message} (HTTP ${response.status})`);
  }
  return data;
}

// GET api/v2/receivers, once per page load: receivers change only with a config reload.
let receivers = null;
export function receiverNames() {
  receivers ??= api("api/v2/receivers")
    .then((list) => list.map((r) => r.name).sort())
    .catch((err) => {
      receivers = null;
      throw err;
    });
  return receivers;
}
