// Building the page from data without ever parsing data as HTML.
//
// Label values and annotations come from whoever can post alerts; a value holding "<script>" or
// "{{ }}" must show those characters. So every element is made with createElement and every
// piece of data goes in as a text node or an attribute value, never through innerHTML, and a
// link made from data (generatorURL, an annotation) keeps only http(s) targets.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  return append(el, ...children);
}

// Element.append, except that null, undefined and false add nothing and arrays are spread.
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Replace everything in `el` with `children`.
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, ...children);
}

// The URL if it is an absolute http(s) one, else null: "javascript:" and friends never become links.
export function safeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// A link to somewhere outside alerter when `url` is safe, else the text alone.
export function outsideLink(url, label) {
  const href = safeUrl(url);
  if (!href) return h("span", { class: "unsafe-url", text: label ?? url });
  return h("a", { href, rel: "noopener noreferrer", target: "_blank", text: label ?? url });
}

// A label as `name="value"`; a button when clicking it does something (adds it to a filter).
export function labelPill(name, value, onPick) {
  const parts = [h("span", { class: "pill-name", text: name }), "=", h("span", { class: "pill-value", text: value })];
  if (!onPick) return h("span", { class: "pill" }, parts);
  return h(
    "button",
    { type: "button", class: "pill", title: `Filter on ${name}="${value}"`, onclick: () => onPick(name, value) },
    parts,
  );
}

export function labelPills(labels, onPick, skip) {
  const names = Object.keys(labels).sort();
  return h(
    "span",
    { class: "pills" },
    names.filter((n) => !skip || !skip.has(n)).map((n) => labelPill(n, labels[n], onPick)),
  );
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind}`, text });
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", { text: title }), children);
}

export function table(headers, rows, opts = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id: opts.id, class: opts.class },
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows),
    ),
  );
}

// Name/value rows for a small fact sheet (status, silence details).
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([name, value]) => [h("dt", { text: name }), h("dd", {}, value)]),
  );
}

export function errorBox(message, id) {
  return h("p", { class: "error", role: "alert", id, text: message });
}

// A page that shows what `load()` fetched, drawn by `draw(data)` under `title`, again at every
// refresh; a failed load shows its message in place of the page's body (id `${id}-error`).
export function loadedPage(main, title, id, load, draw) {
  const body = h("div", { id }, h("p", { class: "muted", text: "Loading…" }));
  append(main, h("h1", { text: title }), body);
  const refresh = async () => {
    let data;
    try {
      data = await load();
    } catch (err) {
      fill(body, errorBox(err.message, `${id}-error`));
      return;
    }
    fill(body, draw(data));
  };
  return { refresh };
}
