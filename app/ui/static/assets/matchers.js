// Matcher lists as Alertmanager's UI writes them in its URLs: {name="value", name=~"regex"}.
//
// The page only splits such a list into single matchers; each one goes to the API as a
// `filter` parameter and the API parses and validates it, so its error message is the one shown.

export const OPERATORS = ["=", "!=", "=~", "!~"];
const PLAIN_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

// A double-quoted string with Go's common escapes, as Alertmanager prints label values.
export function quote(text) {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

export function matcherText({ name, op, value }) {
  return `${PLAIN_NAME.test(name) ? name : quote(name)}${op}${quote(value)}`;
}

export function filterText(matchers) {
  return matchers.length ? `{${matchers.map(matcherText).join(", ")}}` : "";
}

class Scanner {
  constructor(text) {
    this.text = text;
    this.pos = 0;
  }

  fail(what) {
    throw new Error(`bad filter at character ${this.pos + 1}: ${what} (in ${this.text})`);
  }

  skipSpace() {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  peek(s) {
    return this.text.startsWith(s, this.pos);
  }

  quoted() {
    let out = "";
    this.pos++; // the opening quote
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++];
      if (c === '"') return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.pos++];
      out += e === "n" ? "\n" : e === "t" ? "\t" : e ?? "";
    }
    return this.fail("unterminated quoted string");
  }

  // A bare name or value: everything up to an operator, comma or closing brace.
  bare(stop) {
    const start = this.pos;
    while (this.pos < this.text.length && !stop.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos).trim();
  }

  matcher() {
    this.skipSpace();
    const name = this.peek('"') ? this.quoted() : this.bare(/[=!~,{}"\s]/);
    if (!name) this.fail("expected a label name");
    this.skipSpace();
    const op = ["=~", "!~", "!=", "="].find((o) => this.peek(o));
    if (!op) this.fail(`expected one of ${OPERATORS.join(" ")} after ${name}`);
    this.pos += op.length;
    this.skipSpace();
    const value = this.peek('"') ? this.quoted() : this.bare(/[,}]/);
    return { name, op, value };
  }
}

// "{a="b", c=~"d"}" (braces optional) to [{name, op, value}]; throws Error on bad syntax.
export function parseFilter(text) {
  const s = new Scanner(text.trim());
  const matchers = [];
  if (!s.text) return matchers;
  const braced = s.peek("{");
  if (braced) s.pos++;
  for (;;) {
    s.skipSpace();
    if (s.pos >= s.text.length || s.peek("}")) break;
    matchers.push(s.matcher());
    s.skipSpace();
    if (s.peek(",")) s.pos++;
    else break;
  }
  s.skipSpace();
  if (braced) {
    if (!s.peek("}")) s.fail("expected , or }");
    s.pos++;
  }
  s.skipSpace();
  if (s.pos < s.text.length) s.fail("unexpected text");
  return matchers;
}

export function fromApi({ name, value, isRegex, isEqual }) {
  const equal = isEqual ?? true;
  return { name, value, op: isRegex ? (equal ? "=~" : "!~") : equal ? "=" : "!=" };
}

export function toApi({ name, op, value }) {
  return { name, value, isRegex: op.endsWith("~"), isEqual: op === "=" || op === "=~" };
}

export function equalMatchers(labels) {
  return Object.keys(labels)
    .sort()
    .map((name) => ({ name, op: "=", value: labels[name] }));
}

// A receiver name as an anchored regex that matches it alone (the API's `receiver` is a regex).
export function exactly(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
