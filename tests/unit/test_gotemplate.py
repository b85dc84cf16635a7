"""The Go text/template interpreter: syntax, control structures, builtins, Alertmanager's functions,
HTML escaping, errors and the sandbox. Expected outputs are what Go and Alertmanager produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import gotemplate
from app.gotemplate import ExecError, ParseError, SafeHTML, Struct, TemplateSet
from app.template.data import KV, AlertList, Strings

T0 = datetime(2024, 3, 5, 14, 7, 9, 120000, tzinfo=UTC)


def alert(status: str, summary: str, **labels: str) -> Struct:
    return Struct(
        {
            "Status": status,
            "Labels": KV(labels),
            "Annotations": KV({"summary": summary}),
            "StartsAt": T0,
            "EndsAt": gotemplate.GO_ZERO_TIME,
        }
    )


DATA = Struct(
    {
        "Status": "firing",
        "Alerts": AlertList(
            [
                alert("firing", "disk <full>", alertname="Disk", instance="b"),
                alert("resolved", "ok", instance="a"),
            ]
        ),
        "GroupLabels": KV({"app": "shop", "alertname": "Disk"}),
        "CommonLabels": KV({"alertname": "Disk", "app": "shop", "dc": "eu"}),
        "Names": Strings(["x", "y"]),
        "Empty": [],
        "Number": 3,
        "Map": {"b": 2, "a": 1},
    }
)


def render(text: str, data: Any = DATA, html: bool = False, files: dict[str, str] | None = None) -> str:
    return TemplateSet(files).execute(text, data, html=html)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("{{ .Status }}", "firing"),
        ("{{ .GroupLabels.app }}", "shop"),
        ("{{ $.Status }}", "firing"),
        ("{{ .Map | len }}", "2"),
        ('{{ "a\\tb\\u00e9" }}|{{ `raw\\n` }}', "a\tb\u00e9|raw\\n"),
        ("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 017 }} {{ 1_000 }} {{ 1.5 }} {{ 'a' }}", "42 -7 31 15 1000 1.5 97"),
        ("{{ true }} {{ false }}", "true false"),
        ('{{ printf "%v" nil }}', "<nil>"),
        ("{{/* a comment */}}x", "x"),
        ("a  {{- /* trimmed */ -}}  b", "ab"),
        ("a \n {{- .Number -}} \n b", "a3b"),
        ("{{ -3 }}", "-3"),
        ("{{ $x := .Number }}{{ $x }}", "3"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
        ("{{ (index .Alerts 0).Labels.instance }}", "b"),
        ('{{ .Status | printf "%s!" | toUpper }}', "FIRING!"),
        ('{{ .CommonLabels.missing }}|{{ index .CommonLabels "missing" }}|', "||"),
        ("{{ .CommonLabels }}", "alertname=Disk, app=shop, dc=eu"),
        ("{{ .CommonLabels.SortedPairs }}", "alertname=Disk, app=shop, dc=eu"),
        ("{{ .Names }} {{ .Map }} {{ .Empty }}", "[x y] map[a:1 b:2] []"),
        ('{{ .Names.Join "+" }}', "x+y"),
        ("{{ (index .Alerts 0).StartsAt }}", "2024-03-05 14:07:09.12 +0000 UTC"),
    ],
)
def test_syntax(text: str, expected: str) -> None:
    assert render(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ if .Empty }}a{{ else if .Number }}b{{ else }}c{{ end }}", "b"),
        ('{{ if 0 }}a{{ else if "" }}b{{ else }}c{{ end }}', "c"),
        ("{{ with .GroupLabels.app }}{{ . }}{{ else }}none{{ end }}", "shop"),
        ("{{ with .Empty }}x{{ else with .Number }}{{ . }}{{ end }}", "3"),
        ("{{ with .Empty }}x{{ else }}{{ .Status }}{{ end }}", "firing"),
        ("{{ range .Alerts }}{{ .Labels.instance }}{{ end }}", "ba"),
        ("{{ range $i, $a := .Alerts }}{{ $i }}={{ $a.Status }} {{ end }}", "0=firing 1=resolved "),
        ("{{ range $k, $v := .Map }}{{ $k }}{{ $v }}{{ end }}", "a1b2"),
        ("{{ range .Empty }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        (
            '{{ range .Alerts }}{{ if eq .Status "resolved" }}{{ break }}{{ end }}{{ .Status }}{{ end }}',
            "firing",
        ),
        (
            '{{ range .Alerts }}{{ if eq .Status "firing" }}{{ continue }}{{ end }}{{ .Status }}{{ end }}',
            "resolved",
        ),
        ("{{ range .Alerts.Firing }}{{ .Annotations.summary }}{{ end }}", "disk <full>"),
        ("{{ len .Alerts.Resolved }}", "1"),
        ("{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values }}{{ end }}", "[eu]"),
        (
            "{{ range .GroupLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}",
            "alertname=Disk;app=shop;",
        ),
        ('{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" .Status }}', "[firing]"),
        ('{{ template "x" }}', "[<no value>]"),
        ('{{ block "y" .Number }}<{{ . }}>{{ end }}', "<3>"),
    ],
)
def test_control_structures(text: str, expected: str) -> None:
    files = {"defs.tmpl": '{{ define "x" }}[{{ . }}]{{ end }}'}
    assert render(text, files=files) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 "" }} {{ or 0 "x" }}', "0 2  x"),
        ("{{ and .Empty .Missing.Deeper }}", "[]"),  # short-circuits: .Missing is never evaluated
        ("{{ not 0 }} {{ not .Names }}", "true false"),
        ('{{ len "héllo" }} {{ len .Map }}', "6 2"),
        ('{{ index .Names 1 }} {{ index .Map "b" }} {{ index "ab" 1 }}', "y 2 98"),
        ('{{ slice .Names 1 }} {{ slice "hello" 1 3 }}', "[y] el"),
        ('{{ print "a" 1 2 "b" }}|{{ println "a" 1 }}|', "a1 2b|a 1\n|"),
        (
            '{{ printf "%s %d %5.2f %-3s| %03d %x %q %v %t %%" '
            '"s" 7 3.14159 "ab" 5 255 "q\\"" .Names true }}',
            's 7  3.14 ab | 005 ff "q\\"" [x y] true %',
        ),
        ('{{ printf "%d %s" "x" }}', "%!d(string=x) %!s(MISSING)"),
        ('{{ printf "%s" "a" "b" }}', "a%!(EXTRA string=b)"),
        ("{{ html \"<a href='x'>&\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;"),
        ('{{ js "it\'s <b>" }}', "it\\'s \\u003Cb\\u003E"),
        ('{{ urlquery "a b&c/d" }}', "a+b%26c%2Fd"),
        ('{{ eq .Status "x" "firing" }} {{ eq 1 1 }} {{ ne "a" "b" }} {{ eq 1 1.0 }}', "true true true true"),
        ('{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}', "true true true false"),
    ],
)
def test_builtins(text: str, expected: str) -> None:
    assert render(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{ toUpper "aé" }} {{ toLower "AB" }} {{ title "hello wORLD it\'s" }}', "AÉ ab Hello World It's"),
        ('{{ trimSpace "  x \\n" }}|{{ .Names | join ", " }}', "x|x, y"),
        ('{{ match "^fir" .Status }} {{ match "^x" .Status }}', "true false"),
        ('{{ reReplaceAll "(\\\\w+)@(\\\\w+)" "${2}:$1 $$" "me@host" }}', "host:me $"),
        ('{{ reReplaceAll "a" "$1x" "bab" }}', "bb"),  # `$1x` names group "1x": empty
        ('{{ reReplaceAll "(?P<user>\\\\w+)@" "${user} at " "me@host" }}', "me at host"),
        # Go replaces no empty match right after a match (Python's re.sub would give XbXXcX, abXX)
        ('{{ reReplaceAll "a*" "X" "baaac" }} {{ reReplaceAll "$" "X" "ab" }}', "XbXcX abX"),
        ('{{ reReplaceAll "(a+)+$" "X" "aaaaaaaaaaaaaaaaaaaaaaaaaaaab" }}', "aaaaaaaaaaaaaaaaaaaaaaaaaaaab"),
        ('{{ match "(a+)+$" "aaaaaaaaaaaaaaaaaaaaaaaaaaaab" }} {{ match "é+" "xéé" }}', "false true"),
        ('{{ safeHtml "<b>" }} {{ safeUrl "http://x?a=1&b=2" }}', "<b> http://x?a=1&b=2"),
        ('{{ urlUnescape "a%20b+c" }}', "a b c"),
        ('{{ stringSlice "a" "b" | join "-" }}', "a-b"),
        ('{{ routeLabels "team" }}|', "|"),
        ('{{ date "2006-01-02 15:04:05.000 MST Mon Jan" .T }}', "2024-03-05 14:07:09.120 UTC Tue Mar"),
        ('{{ date "02/01/06 3:04PM -07:00" (tz "Europe/Paris" .T) }}', "05/03/24 3:07PM +01:00"),
        ('{{ (tz "Asia/Kolkata" .T).Format "15:04 Z0700" }}', "19:37 +0530"),
        ("{{ .T.Unix }} {{ .T.UTC.IsZero }} {{ (.T.Sub .T).Seconds }}", "1709647629 false 0"),
        (
            "{{ humanizeDuration 0 }} {{ humanizeDuration 90061 }} {{ humanizeDuration 0.1234 }}",
            "0s 1d 1h 1m 1s 123.4ms",
        ),
        ('{{ humanizeDuration "3600" }} {{ humanizeDuration .D }}', "1h 0m 0s 1m 30s"),
        ("{{ .D }} {{ .Small }}", "1m30s 1.5ms"),
        (
            '{{ toDate "2006-01-02T15:04:05Z07:00" "2024-03-05T14:07:09+02:00" }}',
            "2024-03-05 14:07:09 +0200 +0200",
        ),
        ('{{ (toDate "2006-01-02" "not a date").IsZero }}', "true"),
        ("{{ toJson .Json }}", r'{"a":[1,2.5,"\u003cx\u003e"],"b":null,"t":"2024-03-05T14:07:09.12Z"}'),
        ('{{ base64encode "a?b" }} {{ base64decode "YT9i" }}', "YT9i a?b"),
        ('{{ $l := list 1 "a" }}{{ append $l 2 }} {{ (dict "k" "v").k }}', "[1 a 2] v"),
    ],
)
def test_alertmanager_functions(text: str, expected: str) -> None:
    data = {
        "T": T0,
        "D": timedelta(seconds=90),
        "Small": timedelta(microseconds=1500),
        "Names": ["x", "y"],
        "Json": {"b": None, "a": [1, 2.5, "<x>"], "t": T0},
        "Status": "firing",
    }
    assert render(text, data) == expected


def test_now_and_since_use_the_clock() -> None:
    assert render('{{ (now).Format "2006" }}', {}) == str(datetime.now().year)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1, seconds=1)
    assert render('{{ (since .T).Hours | printf "%.0f" }}', {"T": an_hour_ago}) == "1"


def test_html_output_escapes_values_but_not_template_text_or_safe_html() -> None:
    text = (
        '<a href="{{ .U }}">{{ .V }}</a>{{ safeHtml .V }}{{ html .V }}{{ template "t" . }}'
        '{{ define "t" }}<i>{{ .V }}</i>{{ end }}'
    )
    data = {"U": "http://x/?a=1&b='2'", "V": "<b>1+1</b>"}
    assert render(text, data, html=True) == (
        '<a href="http://x/?a=1&amp;b=&#39;2&#39;">&lt;b&gt;1&#43;1&lt;/b&gt;</a>'
        "<b>1+1</b>&lt;b&gt;1+1&lt;/b&gt;<i>&lt;b&gt;1&#43;1&lt;/b&gt;</i>"
    )
    assert render("{{ .V }}", data, html=False) == "<b>1+1</b>"
    assert isinstance(gotemplate.FUNCS["safeHtml"]("x"), SafeHTML)


def test_later_files_replace_definitions_and_empty_ones_do_not() -> None:
    files = {
        "a.tmpl": '{{ define "x" }}a{{ end }}{{ define "y" }}a{{ end }}',
        "b.tmpl": '{{ define "x" }}b{{ end }}{{ define "y" }} {{ end }}',
    }
    assert render('{{ template "x" }}{{ template "y" }}', files=files) == "ba"


def test_a_missing_template_asks_the_fallback() -> None:
    def fallback(name: str, data: Any, html: bool) -> str | None:
        return f"<{name}:{data}:{html}>" if name == "known" else None

    assert (
        TemplateSet().execute('{{ template "known" 1 }}', {}, html=True, fallback=fallback)
        == "<known:1:True>"
    )
    with pytest.raises(ExecError, match='no such template "other"'):
        TemplateSet().execute('{{ template "other" 1 }}', {}, fallback=fallback)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ .X", "template: t:1: unclosed action started at t:1"),
        ("a\n{{ if .X }}\nb", "template: t:3: unexpected EOF"),
        ("{{ end }}", "template: t:1: unexpected {{end}}"),
        ("{{ else }}", "template: t:1: unexpected {{else}}"),
        ("{{ nope 1 }}", 'template: t:1: function "nope" not defined'),
        ("{{ Status }}", 'function "Status" not defined (fields start with a dot: .Status)'),
        ("{{ $x }}", 'template: t:1: undefined variable "$x"'),
        ("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}", 'undefined variable "$x"'),
        ("{{ }}", "missing value for command"),
        ("{{ if }}{{ end }}", "missing value for if"),
        ("{{ .X | 1 }}", "non executable command in pipeline stage 2"),
        ("{{ template .X }}", "unexpected <.X> in template clause"),
        ("{{ break }}", "{{break}} outside {{range}}"),
        ('{{ "unterminated }}', "unterminated quoted string"),
        ("{{ `raw }}", "unterminated raw quoted string"),
        ("{{ /* c */ }}", "comment ends before closing delimiter"),
        ("{{/* never closed", "unclosed comment"),
        ("{{ # }}", "bad character '#'"),
        ("{{ (1 }}", "unclosed left paren"),
        ('{{ define "a" }}1{{ end }}{{ define "a" }}2{{ end }}', 'multiple definition of template "a"'),
        ('{{ if 1 }}{{ define "a" }}{{ end }}{{ end }}', "{{define}} is only allowed at the top level"),
        ("{{ $a, $b := .X }}", "too many declarations in command"),
    ],
)
def test_parse_errors_name_the_template_and_line(text: str, message: str) -> None:
    with pytest.raises(ParseError) as err:
        gotemplate.parse("t", text)
    assert message in str(err.value)
    assert str(err.value).startswith("template: t:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ .Nope }}",
            'template: inline:1: executing "inline" at <.Nope>: can\'t evaluate field Nope in type struct',
        ),
        (
            "x\n{{ toUpper 1 }}",
            'inline:2: executing "inline" at <toUpper 1>: error calling toUpper: wrong type for value',
        ),
        ("{{ index .Names 5 }}", "error calling index: index out of range: 5"),
        ("{{ range .Status }}{{ end }}", "range can't iterate over firing"),
        ("{{ lt true false }}", "invalid type for comparison"),
        ('{{ eq 1 "1" }}', "incompatible types for comparison"),
        ("{{ eq .Names .Names }}", "non-comparable type"),
        ("{{ len 3 }}", "len of type int"),
        ('{{ toUpper "a" "b" }}', "wrong number of args for toUpper: want 1 got 2"),
        ('{{ match "(" "x" }}', "error parsing regexp"),
        ('{{ match "((a{1000}){1000}){1000}" "x" }}', "error parsing regexp: invalid repeat count: `{1000}`"),
        (
            '{{ reReplaceAll "(?=x)" "" "x" }}',
            "error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
        ),
        ('{{ tz "Mars/Base" .T }}', "unknown time zone Mars/Base"),
        ('{{ mustToDate "2006" "x" }}', 'parsing time "x" as "2006": cannot parse'),
        ('{{ dict "a" }}', "dict requires an even number of arguments"),
        ("{{ 1 2 }}", "can't give argument to non-function 1"),
        (
            '{{ template "loop" }}{{ define "loop" }}{{ template "loop" }}{{ end }}',
            "exceeded maximum template depth",
        ),
        ('{{ .Names.Join "a" "b" }}', "wrong number of args for Join"),
    ],
)
def test_execution_errors_name_the_action(text: str, message: str) -> None:
    data = {"Names": Strings(["x"]), "Status": "firing", "T": T0}
    data = Struct(data)
    with pytest.raises(ExecError) as err:
        render(text, data)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "{{ .__class__ }}",
        "{{ .Alerts.__class__.__mro__ }}",
        "{{ .Alerts.append }}",
        "{{ .Alerts.Firing.__len__ }}",
        "{{ .Status.upper }}",
        "{{ (index .Alerts 0).__dict__ }}",
        "{{ .GroupLabels.SortedPairs._asdict }}",
        "{{ .Alerts.TEMPLATE_METHODS }}",
    ],
)
def test_sandbox_reaches_no_python_internals(text: str) -> None:
    with pytest.raises(ExecError, match="can't evaluate field"):
        render(text)


def test_sandbox_map_names_are_keys_never_methods() -> None:
    assert render("[{{ .CommonLabels.items }}{{ .CommonLabels.__class__ }}]") == "[]"
    assert render(
        '{{ index .CommonLabels "__class__" }}|{{ range $k, $v := .CommonLabels }}{{ $k }}{{ end }}'
    ) == ("|alertnameappdc")


def test_label_values_are_never_evaluated() -> None:
    data = {"V": '{{ .Secret }} {{ template "x" }}', "Secret": "s"}
    assert render("{{ .V }}", data) == data["V"]


def test_parsed_templates_are_cached_by_text() -> None:
    gotemplate.parse.cache_clear()
    for _ in range(3):
        render("{{ .Status }} cached")
    assert gotemplate.parse.cache_info().hits >= 2
