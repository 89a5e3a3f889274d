"""Go text/template subset used for --format."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pypod.cli import gotemplate
from pypod.cli.gotemplate import render, render_rows
from pypod.errors import TemplateError

DATA = {
    "ID": "abc123",
    "Names": ["a", "b"],
    "State": {"Status": "running", "Pid": 3, "Running": True},
    "Labels": {"x": "y", "k": "v"},
    "N": 5,
    "Empty": [],
    "Ratio": 1.5,
}


class Obj:
    Name = "obj"

    @property
    def Upper(self) -> str:  # noqa: N802 - Go-style field
        return "PROP"

    def Method(self) -> str:  # noqa: N802
        return "called"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.ID}}", "abc123"),
        ("{{.State.Status}}", "running"),
        ("{{ .State.Pid }}", "3"),
        ("{{json .Names}}", '["a","b"]'),
        ("{{.Names | json}}", '["a","b"]'),
        ("{{json .State}}", '{"Status":"running","Pid":3,"Running":true}'),
        ("{{range .Names}}<{{.}}>{{end}}", "<a><b>"),
        ("{{range $i, $e := .Names}}{{$i}}={{$e}};{{end}}", "0=a;1=b;"),
        ("{{range $k, $v := .Labels}}{{$k}}:{{$v}} {{end}}", "k:v x:y "),
        ("{{range .Empty}}x{{else}}none{{end}}", "none"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if eq .N 4}}four{{else if eq .N 5}}five{{else}}other{{end}}", "five"),
        ("{{if .Empty}}y{{else}}n{{end}}", "n"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ("{{with .Empty}}x{{else}}empty{{end}}", "empty"),
        ('{{index .Labels "x"}}', "y"),
        ("{{index .Names 1}}", "b"),
        ('{{printf "%s-%d" .ID .N}}', "abc123-5"),
        ('{{printf "%5s|%-4s|" "ab" "c"}}', "   ab|c   |"),
        ('{{printf "%q %v %x %03d" "q" .Names 255 7}}', '"q" [a b] ff 007'),
        ('{{printf "%d"}}', "%!d(MISSING)"),
        ('{{printf "%d" "s"}}', "%!d(string=s)"),
        ("{{lower .ID | upper}}", "ABC123"),
        ('{{title "hello world"}}', "Hello World"),
        ('{{join .Names ","}}', "a,b"),
        ('{{split "a,b,c" ","}}', "[a b c]"),
        ("{{len .Names}}", "2"),
        ("{{truncate .ID 3}}", "abc"),
        ("{{truncate .ID 30}}", "abc123"),
        ("{{ne .N 5}} {{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 3 2}}", "false true true false true"),
        ('{{and 1 0}} {{or 0 "z"}} {{not 0}} {{and 1 2}}', "0 z true 2"),
        ("{{$x := .N}}{{$x}}{{$x = 7}}{{$x}}", "57"),
        ("{{$.N}}", "5"),
        ("a  {{- .ID -}}  b", "aabc123b"),
        ("a{{/* comment */}}b", "ab"),
        ("a {{- /* comment */ -}} b", "ab"),
        ("{{.ID}}\\t{{.N}}\\n", "abc123\t5\n"),
        ("{{.Ratio}} {{1e3}} {{-2}}", "1.5 1000 -2"),
        ("{{.Labels.nope}}|", "|"),
        ("{{(index .Names 0)}}", "a"),
        ("{{range .Names}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}", "a"),
        ("{{range .Names}}{{if eq . \"a\"}}{{continue}}{{end}}{{.}}{{end}}", "b"),
        ("{{range $i, $e := .Names}}{{$.ID}}{{end}}", "abc123abc123"),
        ("{{`raw`}}", "raw"),
        ("{{.Labels}}", "map[k:v x:y]"),
        ("{{.State.Running}}", "true"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{slice .ID 1 3}}", "bc"),
        ('{{print "a" 1 2 "b"}}', "a1 2b"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, DATA) == expected


def test_objects_attributes_properties_methods() -> None:
    assert render("{{.Name}} {{.Upper}} {{.Method}}", Obj()) == "obj PROP called"


def test_dot_is_whole_data() -> None:
    assert render("{{.}}", "plain") == "plain"
    assert render("{{.}}", [1, 2]) == "[1 2]"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{.Foo}}", "can't evaluate field Foo in type"),
        ("{{.ID.X}}", "can't evaluate field X in type string"),
        ("{{.ID", "unclosed action"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{if .ID}}x", "unexpected EOF"),
        ("{{nosuchfunc .ID}}", 'function "nosuchfunc" not defined'),
        ('{{eq 1 "a"}}', "incompatible types for comparison"),
        ("{{$nope}}", "undefined variable: $nope"),
        ("{{.ID 1}}", ""),
        ("{{len .N}}", "len of type int"),
        ("{{index .Names 9}}", "index out of range"),
        ("{{#}}", "bad character"),
        ('{{"unterminated}}', "unterminated quoted string"),
        ("{{(.ID}}", ""),
        ("{{break}}", "outside {{range}}"),
        ("{{template \"x\"}}", "not supported"),
    ],
)
def test_errors(template: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        render(template, DATA)
    assert str(info.value).startswith("template: ")
    assert fragment in str(info.value)
    assert info.value.exit_code == 125


def test_error_names_position_and_template() -> None:
    with pytest.raises(TemplateError) as info:
        render("x{{.Foo}}", DATA, name="images")
    assert str(info.value).startswith('template: images:1:3: executing "images" at <.Foo>:')


def test_compile_is_cached() -> None:
    assert gotemplate.compile("{{.ID}}") is gotemplate.compile("{{.ID}}")
    assert gotemplate.compile("{{.ID}}").execute(DATA) == "abc123"


def test_is_table_and_json() -> None:
    assert gotemplate.is_table("table {{.ID}}")
    assert not gotemplate.is_table("table")
    assert not gotemplate.is_table("{{.ID}}")
    assert gotemplate.is_json("json")


def test_render_rows_table_like_podman() -> None:
    rows = [{"ID": "7d743b4c2c5f", "Repository": "localhost/busybox"}]
    out = render_rows("table {{.ID}} {{.Repository}}", rows, {"ID": "IMAGE ID"})
    assert out == "IMAGE ID      REPOSITORY\n7d743b4c2c5f  localhost/busybox\n"
    # an empty text column between actions gets the minimum width of 12
    out = render_rows("table {{.ID}}  X {{.Repository}}", rows, {"ID": "IMAGE ID"})
    assert out.splitlines()[0] == "IMAGE ID                  X           REPOSITORY"
    # non-table: no header, no alignment, one line per row
    assert render_rows("{{.ID}}\\t{{.Repository}}", rows) == "7d743b4c2c5f\tlocalhost/busybox\n"
    # derived headers: camel case split, upper case
    out = render_rows("table {{.CreatedAt}},{{.ID}}", [{"CreatedAt": "now", "ID": "x"}])
    assert out.splitlines()[0] == "CREATED AT,ID"


def test_render_rows_noheading() -> None:
    out = render_rows("table {{.ID}}", [{"ID": "a"}], header=False)
    assert out == "a\n"


FRAGMENTS = ["{{", "}}", ".ID", ".Names", " ", "range", "end", "if", "else", "with", "$x", ":=", "|", "json",
             "printf", '"%d"', "(", ")", "-", "/*", "*/", "index", "1", "eq", "len", "$", ".", "break", "`"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=14))
def test_random_templates_raise_only_template_error(parts: list[str]) -> None:
    template = "".join(parts)
    try:
        result = render(template, DATA)
    except TemplateError:
        return
    assert isinstance(result, str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_random_text_raises_only_template_error(template: str) -> None:
    try:
        render(template, DATA)
    except TemplateError:
        pass
