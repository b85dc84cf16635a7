// The filter bar the alert, silence and history lists share: a matcher list and a receiver.

import { receiverNames } from "./api.js";
import { append, h } from "./dom.js";

export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label", text: label }), control, hint ? h("span", { class: "hint", text: hint }) : null);
}

export function filterInput(id, value) {
  return h("input", {
    id,
    type: "text",
    value,
    spellcheck: "false",
    autocomplete: "off",
    placeholder: '{severity="critical", instance=~"db.*"}',
  });
}

// Every receiver of the config, plus the asked one when it is not among them (a regex, or a
// receiver since removed): it must show as selected, not fall back to "all" unseen.
export function receiverSelect(id, value, onChange) {
  const select = h("select", { id, onchange: onChange }, h("option", { value: "", text: "All receivers" }));
  const addOptions = (names) => {
    const options = [...names];
    if (value && !options.includes(value)) options.push(value);
    append(select, ...options.map((name) => h("option", { value: name, text: name })));
    select.value = value || "";
  };
  receiverNames().then(addOptions, () => addOptions([]));
  return select;
}

// A search form: `controls` in a row and an Apply button; Enter in a text box applies too.
export function searchForm(id, controls, onApply) {
  return h(
    "form",
    {
      id,
      class: "controls",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        onApply();
      },
    },
    controls,
    h("button", { type: "submit", class: "primary", text: "Apply" }),
  );
}
