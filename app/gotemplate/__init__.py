"""Go's text/template language, interpreted in a sandbox, for the templates operators write.

Why: an alertmanager.yml carries Go templates (an email `Subject` header such as
`[{{ .Status | toUpper }}] {{ .GroupLabels.app }}`, `html:` and `text:` bodies, `to:`, `from:`)
and `templates:` files of `{{ define "name" }}...{{ end }}` blocks. A drop-in replacement must
render them as Alertmanager does, so this package implements the part of text/template they use,
written from the language's documentation (not from Go's source):

- actions `{{ }}` with trim markers (`{{- ` and ` -}}` eat the whitespace beside them) and
  comments `{{/* */}}`; string (`"..."` with Go escapes, raw `` `...` ``), character, number,
  `true`/`false` and `nil` literals (`lexer`);
- field and key chains (`.A.B`, `$x.A`, `(pipeline).A`), `.`, `$`, variables declared with `:=`
  and assigned with `=`, pipelines `a | b`, parenthesised pipelines, function calls (`parser`);
- `if`/`else if`/`else`, `range` (lists, maps in sorted key order, integers, `$i, $e :=`,
  `else`, `break`, `continue`), `with`/`else with`/`else`, `define`, `template`, `block`
  (`parser`, `execute`);
- Go's truth (false, 0, nil and empty strings, lists and maps are false) and its builtins `and`,
  `or` (both short-circuit), `not`, `len`, `index`, `slice`, `print`, `printf`, `println`, `eq`
  (with several arguments), `ne`, `lt`, `le`, `gt`, `ge`, `html`, `js`, `urlquery` (`builtins`).
  Not `call`: the template data holds no function values to call;
- every function of Alertmanager's `DefaultFuncs` (`functions`): `toUpper`, `toLower`, `title`,
  `trimSpace`, `join`, `match`, `reReplaceAll`, `safeHtml`, `safeUrl`, `urlUnescape`,
  `stringSlice`, `date`, `tz`, `now`, `since`, `humanizeDuration`, `toDate`, `mustToDate`,
  `toJson`, `base64encode`, `base64decode`, `list`, `append`, `dict` and `routeLabels` (the
  route label of that name from the executed data's `RouteLabels`, or whatever the caller's
  resolver renders, see `TemplateSet.execute`). Regexes follow RE2 through
  `app.regex.compile_regex`.

Values (`values`, `gotime`). The data is plain Python: str, int, float, bool, None, datetime
(Go's time.Time, with `Format`, `Unix`, `UTC`, ... and Go's layouts), timedelta (time.Duration),
lists, mappings and:
- `Struct`, a dict whose keys are the fields of a Go struct: naming a field it lacks is an
  error, as it is in Go, where `.Alert` for `.Alerts` fails the notification instead of being empty;
- any other mapping is a Go map of strings: a missing key gives "" (Alertmanager's
  `missingkey=zero` on its `KV` maps), so `{{ .CommonLabels.severity }}` of an alert without that
  label renders empty;
- a NamedTuple is a struct of its fields;
- a class may list in `TEMPLATE_METHODS` the attributes and methods templates may reach on its
  instances (`.Alerts.Firing`, `.CommonLabels.Remove .GroupLabels.Names`); they come before map
  keys, as Go's methods do, and one named `String` is how its values print.

Sandbox (`fields`): nothing else of a Python object is reachable. A field name is looked up only
as a mapping key, a NamedTuple field or a declared name, so `.__class__` or `.append` is a "can't
evaluate field" error; there is no eval, no attribute access by name, and template calls nest at
most `MAX_DEPTH` deep.

HTML. Alertmanager renders email `html` with html/template, whose escaping depends on where a
value lands (text, attribute, URL, script). This interpreter does not parse the HTML around
actions: with `html=True` it escapes every value an action prints as HTML text (`&`, `<`, `>`,
quotes and `+`, as html/template does in text) unless it comes from `safeHtml` (or the `html`
escaper, so it is not escaped twice). That is what html/template does in text and quoted
attributes; it does not rewrite `javascript:` URLs in `href` attributes to `#ZgotmplZ` nor apply
JavaScript escaping inside `<script>`. Output of `template` calls is inserted as rendered.

Errors (`errors`) are `GoTemplateError`s: a `ParseError` names the template and line
(`template: NAME:LINE: MESSAGE`, Go's wording), an `ExecError` also names the failing action
(`template: NAME:LINE: executing "NAME" at <ACTION>: MESSAGE`). Parsed templates are cached by
text, so each distinct template text is parsed once.
"""

from app.gotemplate.errors import ExecError, GoTemplateError, ParseError
from app.gotemplate.execute import MAX_DEPTH, Fallback, RouteLabelResolver, TemplateSet
from app.gotemplate.functions import FUNCS
from app.gotemplate.parser import Parsed, parse
from app.gotemplate.values import SafeHTML, Struct
from app.timeutil import GO_ZERO_TIME

__all__ = [
    "FUNCS",
    "GO_ZERO_TIME",
    "MAX_DEPTH",
    "ExecError",
    "Fallback",
    "GoTemplateError",
    "ParseError",
    "Parsed",
    "RouteLabelResolver",
    "SafeHTML",
    "Struct",
    "TemplateSet",
    "parse",
]
