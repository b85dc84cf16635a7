// #/silences/new?filter=...&comment=... and #/silences/<id>/edit: the silence form.
//
// The form turns what was typed into Alertmanager's PostableSilence and lets the API judge it:
// a silence the API refuses shows the API's own message. Only what cannot be sent at all (a
// start time or duration that does not parse) is caught here.

import { compactAlertList } from "../alertview.js";
import { api } from "../api.js";
import { field } from "../controls.js";
import { append, errorBox, fill, h } from "../dom.js";
import { fromApi, matcherText, OPERATORS, parseFilter, toApi } from "../matchers.js";
import { hashFor } from "../route.js";
import { formatDuration, isoSeconds, localTime, parseDuration, parseTime } from "../time.js";

const CREATOR_KEY = "alerter.creator";
const DEFAULT_DURATION = 2 * 3600e3;

export const newPage = { title: "New silence", params: ["filter", "comment"], render: renderNew };
export const editPage = { title: "Edit silence", params: [], render: renderEdit };

function renderNew({ main, params, go }) {
  let matchers = [];
  let problem = null;
  try {
    matchers = parseFilter(params.get("filter") ?? "");
  } catch (err) {
    problem = err.message;
  }
  const now = Date.now();
  const form = new SilenceForm(main, go, "New silence", {
    matchers,
    start: now,
    end: now + DEFAULT_DURATION,
    createdBy: localStorage.getItem(CREATOR_KEY) ?? "",
    comment: params.get("comment") ?? "",
  });
  if (problem) form.showError(problem);
  else if (matchers.length) form.preview();
  return {};
}

function renderEdit({ main, args, go }) {
  const [id] = args;
  const loading = h("p", { class: "muted", text: "Loading…" });
  append(main, loading);
  api(`api/v2/silence/${encodeURIComponent(id)}`).then(
    (s) => {
      loading.remove();
      new SilenceForm(main, go, "Edit silence", {
        id: s.id,
        matchers: s.matchers.map(fromApi),
        start: Date.parse(s.startsAt),
        end: Date.parse(s.endsAt),
        createdBy: s.createdBy,
        comment: s.comment,
      });
    },
    (err) => loading.replaceWith(errorBox(err.message, "silence-error")),
  );
  return {};
}

class SilenceForm {
  constructor(main, go, title, initial) {
    this.go = go;
    this.id = initial.id ?? "";
    this.rows = h("div", { class: "matcher-rows" });
    this.start = h("input", { id: "silence-start", type: "text", value: isoSeconds(initial.start), spellcheck: "false", oninput: () => this.fromDuration() });
    this.duration = h("input", {
      id: "silence-duration",
      type: "text",
      value: formatDuration(initial.end - initial.start),
      spellcheck: "false",
      oninput: () => this.fromDuration(),
    });
    this.end = h("input", { id: "silence-end", type: "text", value: isoSeconds(initial.end), spellcheck: "false", oninput: () => this.fromEnd() });
    this.local = h("p", { class: "hint", id: "silence-local-times" });
    this.creator = h("input", { id: "silence-creator", type: "text", value: initial.createdBy, autocomplete: "username" });
    this.comment = h("textarea", { id: "silence-comment", rows: 3 });
    this.comment.value = initial.comment;
    this.error = h("div", { id: "silence-error-box" });
    this.previewBox = h("section", { id: "silence-preview", class: "card", "aria-live": "polite" });
    for (const m of initial.matchers.length ? initial.matchers : [{ name: "", op: "=", value: "" }]) this.addRow(m);
    const form = h(
      "form",
      { id: "silence-form", class: "card form", novalidate: true, onsubmit: (e) => this.submit(e) },
      h(
        "fieldset",
        {},
        h("legend", { text: "Matchers" }),
        h("p", { class: "hint", text: "Alerts whose labels match all of these are muted." }),
        this.rows,
        h("button", { type: "button", id: "silence-add-matcher", text: "Add matcher", onclick: () => this.addRow({ name: "", op: "=", value: "" }, true) }),
      ),
      h(
        "div",
        { class: "row" },
        field("Start (UTC)", this.start),
        field("Duration", this.duration, "2h, 1h30m, 3d"),
        field("End (UTC)", this.end),
      ),
      this.local,
      field("Created by", this.creator),
      field("Comment", this.comment),
      this.error,
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "button", id: "silence-preview-button", text: "Preview muted alerts", onclick: () => this.preview() }),
        h("button", { type: "submit", id: "silence-submit", class: "primary", text: this.id ? "Update silence" : "Create silence" }),
      ),
    );
    append(main, h("h1", { text: title }), form, this.previewBox);
    this.showLocal();
  }

  addRow(m, focus = false) {
    const name = h("input", { type: "text", class: "m-name", "aria-label": "Label name", value: m.name, spellcheck: "false" });
    const op = h("select", { class: "m-op", "aria-label": "Operator" }, OPERATORS.map((o) => h("option", { value: o, text: o })));
    op.value = m.op;
    const value = h("input", { type: "text", class: "m-value", "aria-label": "Label value", value: m.value, spellcheck: "false" });
    const row = h("div", { class: "matcher-row" }, name, op, value);
    append(row, h("button", { type: "button", class: "remove", "aria-label": "Remove matcher", text: "×", onclick: () => row.remove() }));
    append(this.rows, row);
    if (focus) name.focus();
  }

  matchers() {
    return [...this.rows.querySelectorAll(".matcher-row")].map((row) => ({
      name: row.querySelector(".m-name").value.trim(),
      op: row.querySelector(".m-op").value,
      value: row.querySelector(".m-value").value,
    }));
  }

  // Start or duration edited: the end follows.
  fromDuration() {
    try {
      this.end.value = isoSeconds(parseTime(this.start.value) + parseDuration(this.duration.value));
    } catch {
      // left as typed; submit says what is wrong
    }
    this.showLocal();
  }

  // End edited: the duration follows.
  fromEnd() {
    try {
      const ms = parseTime(this.end.value) - parseTime(this.start.value);
      if (ms > 0) this.duration.value = formatDuration(ms);
    } catch {
      // left as typed; submit says what is wrong
    }
    this.showLocal();
  }

  showLocal() {
    try {
      this.local.textContent = `In your time zone: ${localTime(parseTime(this.start.value))} to ${localTime(parseTime(this.end.value))}`;
    } catch (err) {
      this.local.textContent = err.message;
    }
  }

  showError(message) {
    fill(this.error, errorBox(message, "silence-error"));
  }

  async preview() {
    fill(this.previewBox, h("h2", { text: "Alerts this silence mutes" }), h("p", { class: "muted", text: "Loading…" }));
    try {
      const params = [...this.matchers().map((m) => ["filter", matcherText(m)]), ["silenced", "true"], ["inhibited", "true"], ["active", "true"]];
      const alerts = await api("api/v2/alerts", { params });
      fill(this.previewBox,
        h("h2", { text: "Alerts this silence mutes" }),
        h("p", { id: "silence-preview-count", dataset: { count: alerts.length }, text: `${alerts.length} ${alerts.length === 1 ? "alert matches" : "alerts match"} now.` }),
        compactAlertList(alerts),
      );
    } catch (err) {
      fill(this.previewBox, h("h2", { text: "Alerts this silence mutes" }), errorBox(err.message, "silence-preview-error"));
    }
  }

  async submit(event) {
    event.preventDefault();
    fill(this.error);
    let body;
    try {
      body = {
        matchers: this.matchers().map(toApi),
        startsAt: isoSeconds(parseTime(this.start.value)),
        endsAt: isoSeconds(parseTime(this.end.value)),
        createdBy: this.creator.value.trim(),
        comment: this.comment.value,
      };
    } catch (err) {
      this.showError(err.message);
      return;
    }
    if (this.id) body.id = this.id;
    try {
      const { silenceID } = await api("api/v2/silences", { method: "POST", body });
      if (body.createdBy) localStorage.setItem(CREATOR_KEY, body.createdBy);
      this.go(hashFor(`/silences/${encodeURIComponent(silenceID)}`));
    } catch (err) {
      this.showError(err.message);
    }
  }
}
