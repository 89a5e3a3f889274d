"""A Go text/template subset for podman's ``--format``.

Supported: text, ``{{.Field.Sub}}``, ``{{.}}``, ``$`` and variables (``$x := ...``, ``$x = ...``),
pipelines (``{{.X | json}}``), parenthesised sub-pipelines, ``if/else if/else``, ``range``
(with ``$i, $e :=``, ``else``, ``break``, ``continue``), ``with``/``else with``, trim markers
``{{-`` / ``-}}``, comments, and the functions of podman's report package plus Go's builtins
(json, lower, upper, title, join, split, len, truncate, pad, index, slice, printf, print,
println, eq, ne, lt, le, gt, ge, and, or, not).

Data: dicts (keys exact), lists, scalars and objects (public attributes and properties;
zero-argument methods are called).  Any parse or execution failure raises
:class:`pypod.errors.TemplateError` with Go's wording.
"""

from __future__ import annotations

import json as _json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from pypod.errors import TemplateError

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

NO_VALUE = "<no value>"
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue", "nil",
             "true", "false"}


# --- lexer -------------------------------------------------------------------------------
@dataclass
class Tok:
    """A lexer token."""
    kind: str  # text, left, right, field, dot, var, ident, string, number, char, bool, nil, ( ) | , := =
    value: Any
    pos: int
    end: int


_NUM_RE = re.compile(
    r"[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?)"
)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = " \t\r\n"


class _Lexer:
    def __init__(self, src: str, name: str) -> None:
        self.src = src
        self.name = name
        self.toks: list[Tok] = []

    def error(self, pos: int, msg: str) -> TemplateError:
        line = self.src.count("\n", 0, pos) + 1
        return TemplateError(f"template: {self.name}:{line}: {msg}")

    def run(self) -> list[Tok]:
        src = self.src
        pos = 0
        trim_next = False
        while pos <= len(src):
            start = src.find("{{", pos)
            text = src[pos:] if start < 0 else src[pos:start]
            if trim_next:
                text = text.lstrip(_SPACE)
            if start < 0:
                if text:
                    self.toks.append(Tok("text", text, pos, len(src)))
                break
            inner = start + 2
            if src.startswith("-", inner) and inner + 1 < len(src) and src[inner + 1] in _SPACE:
                text = text.rstrip(_SPACE)
                inner += 2
            if text:
                self.toks.append(Tok("text", text, pos, start))
            pos, trim_next = self._action(start, inner)
        return self.toks

    def _close_at(self, i: int) -> tuple[int, bool] | None:
        """If the action closes at ``i`` (after spaces), return (end, trim)."""
        src = self.src
        if src.startswith("}}", i):
            return i + 2, False
        j = i
        while j < len(src) and src[j] in _SPACE:
            j += 1
        if j > i and src.startswith("-}}", j):
            return j + 3, True
        return None

    def _action(self, start: int, i: int) -> tuple[int, bool]:
        src = self.src
        # comments: {{/* ... */}}
        k = i
        while k < len(src) and src[k] in _SPACE and k > start + 2:
            k += 1
        if src.startswith("/*", k):
            close = src.find("*/", k + 2)
            if close < 0:
                raise self.error(start, "unclosed comment")
            closed = self._close_at(close + 2)
            if closed is None:
                raise self.error(start, "comment ends before closing delimiter")
            return closed
        self.toks.append(Tok("left", None, start, i))
        paren = 0
        while True:
            if i >= len(src):
                raise self.error(start, "unclosed action")
            closed = self._close_at(i) if paren == 0 else None
            if closed is not None:
                self.toks.append(Tok("right", None, i, closed[0]))
                return closed
            c = src[i]
            if c in _SPACE:
                i += 1
                continue
            if src.startswith("}}", i):
                raise self.error(i, "unclosed left paren")
            if c == "\n":
                raise self.error(i, "unclosed action")
            if c == '"':
                j = i + 1
                while j < len(src) and src[j] != '"':
                    if src[j] == "\\":
                        j += 1
                    if j < len(src) and src[j] == "\n":
                        raise self.error(i, "unterminated quoted string")
                    j += 1
                if j >= len(src):
                    raise self.error(i, "unterminated quoted string")
                self.toks.append(Tok("string", _unquote(src[i:j + 1], self, i), i, j + 1))
                i = j + 1
            elif c == "`":
                j = src.find("`", i + 1)
                if j < 0:
                    raise self.error(i, "unterminated raw quoted string")
                self.toks.append(Tok("string", src[i + 1:j], i, j + 1))
                i = j + 1
            elif c == "'":
                m = re.compile(r"'(\\.[^']*|[^'\\])'").match(src, i)
                if not m:
                    raise self.error(i, "unterminated character constant")
                self.toks.append(Tok("number", ord(_unquote('"' + m.group(1) + '"', self, i)), i, m.end()))
                i = m.end()
            elif c == "$":
                m = _IDENT_RE.match(src, i + 1)
                j = m.end() if m else i + 1
                self.toks.append(Tok("var", src[i:j], i, j))
                i = j
            elif c == "." and not (i + 1 < len(src) and src[i + 1].isdecimal()):
                m = _IDENT_RE.match(src, i + 1)
                if m:
                    self.toks.append(Tok("field", m.group(0), i, m.end()))
                    i = m.end()
                else:
                    self.toks.append(Tok("dot", ".", i, i + 1))
                    i += 1
            elif c.isdecimal() or c == "." or (c in "+-" and i + 1 < len(src) and (src[i + 1].isdecimal() or src[i + 1] == ".")):
                m = _NUM_RE.match(src, i)
                if not m or m.end() == i:
                    raise self.error(i, f"bad number syntax: {src[i:i + 1]!r}")
                self.toks.append(Tok("number", _parse_number(m.group(0), self, i), i, m.end()))
                i = m.end()
            elif c == "_" or c.isalpha():
                m = _IDENT_RE.match(src, i)
                assert m
                word = m.group(0)
                kind = "bool" if word in ("true", "false") else "nil" if word == "nil" else "ident"
                value: Any = word == "true" if kind == "bool" else word
                self.toks.append(Tok(kind, value, i, m.end()))
                i = m.end()
            elif src.startswith(":=", i):
                self.toks.append(Tok(":=", ":=", i, i + 2))
                i += 2
            elif c in "()|,=":
                paren += 1 if c == "(" else -1 if c == ")" else 0
                if paren < 0:
                    raise self.error(i, "unexpected right paren U+0029 ')'")
                self.toks.append(Tok(c, c, i, i + 1))
                i += 1
            else:
                raise self.error(i, f"bad character U+{ord(c):04X} '{c}'")


def _unquote(lit: str, lexer: _Lexer, pos: int) -> str:
    import ast

    body = lit[1:-1]
    if re.search(r"\\[^abfnrtv\\\"'0-7xuU]", body):
        raise lexer.error(pos, f"invalid syntax: {lit}")
    try:
        value = ast.literal_eval(lit)
    except (ValueError, SyntaxError):
        raise lexer.error(pos, f"invalid syntax: {lit}") from None
    return str(value)


def _parse_number(text: str, lexer: _Lexer, pos: int) -> int | float:
    clean = text.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?0[xXbBoO].*", clean):
            return int(clean, 0)
        if re.fullmatch(r"[+-]?\d+", clean):
            return int(clean)
        return float(clean)
    except ValueError:
        raise lexer.error(pos, f"bad number syntax: {text!r}") from None


# --- AST -----------------------------------------------------------------------------------
@dataclass
class Node:
    """A parse-tree node."""
    pos: int


@dataclass
class Text(Node):
    """Literal text between actions."""
    text: str


@dataclass
class Operand(Node):
    """One argument: kind field|dot|var|ident|const|nil|pipe, plus a field chain."""

    kind: str
    value: Any
    chain: list[str] = field(default_factory=list)
    source: str = ""


@dataclass
class Command(Node):
    """One command of a pipeline."""
    args: list[Operand]


@dataclass
class Pipe(Node):
    """A pipeline of commands."""
    decl: list[str]
    assign: bool
    cmds: list[Command]


@dataclass
class Action(Node):
    """A {{pipeline}} action."""
    pipe: Pipe


@dataclass
class Branch(Node):
    """An if/with/range branch."""
    kind: str  # if, range, with
    pipe: Pipe
    body: list[Node]
    else_body: list[Node] | None


@dataclass
class Control(Node):
    """A control structure."""
    kind: str  # break, continue


class _Parser:
    def __init__(self, src: str, name: str) -> None:
        self.lexer = _Lexer(src, name)
        self.toks = self.lexer.run()
        self.i = 0
        self.src = src
        self.range_depth = 0

    def error(self, pos: int, msg: str) -> TemplateError:
        return self.lexer.error(pos, msg)

    def peek(self, ahead: int = 0) -> Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise self.error(len(self.src), "unexpected EOF")
        self.i += 1
        return tok

    def expect(self, kind: str, context: str) -> Tok:
        tok = self.next()
        if tok.kind != kind:
            raise self.error(tok.pos, f"unexpected {self._describe(tok)} in {context}")
        return tok

    def _describe(self, tok: Tok) -> str:
        if tok.kind == "right":
            return '"}}"'
        if tok.kind == "left":
            return '"{{"'
        return f'"{self.src[tok.pos:tok.end]}"'

    def parse(self) -> list[Node]:
        nodes, term = self.parse_list()
        if term is not None:
            raise self.error(term.pos, f"unexpected {{{{{term.value}}}}}")
        return nodes

    def parse_list(self) -> tuple[list[Node], Tok | None]:
        """Nodes up to {{end}}/{{else}} (returned as the terminator, positioned after the keyword)."""
        nodes: list[Node] = []
        while (tok := self.peek()) is not None:
            if tok.kind == "text":
                self.i += 1
                nodes.append(Text(tok.pos, tok.value))
                continue
            self.expect("left", "template")
            head = self.peek()
            if head is None:
                raise self.error(tok.pos, "unexpected EOF")
            if head.kind == "ident" and head.value in ("end", "else"):
                self.i += 1
                return nodes, head
            if head.kind == "ident" and head.value in ("if", "range", "with"):
                self.i += 1
                nodes.append(self.parse_branch(head.value, head.pos))
            elif head.kind == "ident" and head.value in ("break", "continue"):
                self.i += 1
                if self.range_depth == 0:
                    raise self.error(head.pos, f"{{{{{head.value}}}}} outside {{{{range}}}}")
                self.expect("right", head.value)
                nodes.append(Control(head.pos, head.value))
            elif head.kind == "ident" and head.value in ("define", "template", "block"):
                raise self.error(head.pos, f"{{{{{head.value}}}}} is not supported")
            else:
                pipe = self.parse_pipe("command", allow_decl=True)
                self.expect("right", "command")
                nodes.append(Action(head.pos, pipe))
        return nodes, None

    def parse_branch(self, kind: str, pos: int) -> Branch:
        if kind == "range":
            self.range_depth += 1
        pipe = self.parse_pipe(kind, allow_decl=True, two_vars=kind == "range")
        self.expect("right", kind)
        body, term = self.parse_list()
        if kind == "range":
            self.range_depth -= 1
        if term is None:
            raise self.error(len(self.src), "unexpected EOF")
        else_body: list[Node] | None = None
        if term.value == "else":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "ident" and nxt.value in ("if", "with") and kind != "range":
                self.i += 1
                # "else if" chains share the final {{end}}
                else_body = [self.parse_branch(nxt.value, nxt.pos)]
            else:
                self.expect("right", "else")
                else_body, term2 = self.parse_list()
                if term2 is None:
                    raise self.error(len(self.src), "unexpected EOF")
                if term2.value != "end":
                    raise self.error(term2.pos, "expected end; found {{else}}")
                self.expect("right", "end")
        else:
            self.expect("right", "end")
        return Branch(pos, kind, pipe, body, else_body)

    def parse_pipe(self, context: str, allow_decl: bool = False, two_vars: bool = False) -> Pipe:
        start = self.peek()
        pos = start.pos if start else len(self.src)
        decl: list[str] = []
        assign = False
        if allow_decl and start is not None and start.kind == "var":
            nxt = self.peek(1)
            if nxt is not None and nxt.kind in (":=", "="):
                decl = [start.value]
                assign = nxt.kind == "="
                self.i += 2
            elif two_vars and nxt is not None and nxt.kind == ",":
                third, fourth = self.peek(2), self.peek(3)
                if third is not None and third.kind == "var" and fourth is not None and fourth.kind in (":=", "="):
                    decl = [start.value, third.value]
                    assign = fourth.kind == "="
                    self.i += 4
                else:
                    raise self.error(start.pos, f"too many declarations in {context}")
        cmds: list[Command] = []
        while True:
            args: list[Operand] = []
            while (tok := self.peek()) is not None and tok.kind not in ("right", "|", ")"):
                args.append(self.parse_operand())
            if not args:
                tok = self.peek()
                raise self.error(tok.pos if tok else pos, f"missing value for {context}")
            cmds.append(Command(args[0].pos, args))
            tok = self.peek()
            if tok is not None and tok.kind == "|":
                self.i += 1
                continue
            break
        return Pipe(pos, decl, assign, cmds)

    def parse_operand(self) -> Operand:
        tok = self.next()
        kind = tok.kind
        if kind == "field":
            op = Operand(tok.pos, "field", None, [tok.value])
        elif kind == "dot":
            op = Operand(tok.pos, "dot", None)
        elif kind == "var":
            op = Operand(tok.pos, "var", tok.value)
        elif kind == "ident":
            if tok.value in _KEYWORDS:
                raise self.error(tok.pos, f"unexpected <{tok.value}> in command")
            if tok.value not in FUNCS:
                raise self.error(tok.pos, f'function "{tok.value}" not defined')
            op = Operand(tok.pos, "ident", tok.value)
        elif kind in ("string", "number", "bool"):
            op = Operand(tok.pos, "const", tok.value)
        elif kind == "nil":
            op = Operand(tok.pos, "nil", None)
        elif kind == "(":
            inner = self.parse_pipe("parenthesized pipeline")
            self.expect(")", "parenthesized pipeline")
            op = Operand(tok.pos, "pipe", inner)
        else:
            raise self.error(tok.pos, f"unexpected {self._describe(tok)} in operand")
        end = self.toks[self.i - 1].end
        while (nxt := self.peek()) is not None and nxt.kind == "field" and nxt.pos == end:
            if op.kind in ("const", "nil", "ident") :
                raise self.error(nxt.pos, f"unexpected {self._describe(nxt)} in operand")
            op.chain.append(nxt.value)
            end = nxt.end
            self.i += 1
        op.source = self.src[tok.pos:end]
        return op


# --- values -----------------------------------------------------------------------------
class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class HeaderName(str):
    """A column header: any field of it is itself (so ``{{.A.B}}`` renders A's header)."""


class _Headers:
    """Data for a table's header row: field name -> header text."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def get(self, name: str) -> HeaderName:
        return HeaderName(self.headers.get(name) or header_for(name))


def header_for(name: str) -> str:
    """Podman's derived header: camel-case words upper-cased and joined by spaces ("CreatedAt" -> "CREATED AT")."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
    return " ".join(words).upper() if words else name.upper()


def go_type(value: Any) -> str:
    if value is None:
        return "interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    return getattr(type(value), "go_type", "") or type(value).__name__


def _struct_like(d: dict) -> bool:
    return bool(d) and all(isinstance(k, str) and k[:1].isupper() for k in d)


def truth(value: Any) -> bool:
    """Go's template truthiness."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict, set, bytes)):
        return bool(value)
    if hasattr(value, "__len__"):
        return len(value) > 0
    return True


def go_str(value: Any) -> str:
    """Go's %v rendering."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)
        if "e" in text:
            mant, exp = text.split("e")
            sign = exp[0] if exp[0] in "+-" else "+"
            exp = exp.lstrip("+-").rjust(2, "0")
            text = f"{mant}e{sign}{exp}"
        return text
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_inner_str(v) for v in value) + "]"
    if isinstance(value, dict):
        if getattr(type(value), "go_kind", "") == "struct":  # Go prints a struct as {v1 v2}
            return "{" + " ".join(_inner_str(v) for v in value.values()) + "}"
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{_inner_str(k)}:{_inner_str(v)}" for k, v in items) + "]"
    return str(value)


def _inner_str(value: Any) -> str:
    return "<nil>" if value is None else go_str(value)


def go_quote(text: str) -> str:
    """strconv.Quote."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if getattr(type(value), "go_kind", "") == "nilmap":
        return None
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_to_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return _to_jsonable(value.to_dict())
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _to_jsonable(dataclasses.asdict(value))
    if hasattr(value, "__dict__"):
        return {k: _to_jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


# --- functions ----------------------------------------------------------------------------
def _fn_json(value: Any) -> str:
    return _json.dumps(_to_jsonable(value), ensure_ascii=False, separators=(",", ":"))


def _need_str(fn: str, value: Any, pos: int = 1) -> str:
    if isinstance(value, str):
        return value
    raise TemplateError(f"wrong type for value; expected string; got {go_type(value)}")


def _need_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and value != int(value)):
        raise TemplateError(f"wrong type for value; expected int; got {go_type(value)}")
    return int(value)


def _fn_len(value: Any) -> int:
    if value is None:
        raise TemplateError("error calling len: len of nil pointer")
    try:
        return len(value)
    except TypeError:
        raise TemplateError(f"error calling len: len of type {go_type(value)}") from None


def _fn_index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if value is None:
            raise TemplateError("error calling index: index of untyped nil")
        if isinstance(value, dict):
            value = value.get(key, "" if not _struct_like(value) else None)
        elif isinstance(value, (list, tuple, str)):
            idx = _need_int(key)
            if not 0 <= idx < len(value):
                raise TemplateError(f"error calling index: index out of range: {idx}")
            value = value[idx] if not isinstance(value, str) else ord(value[idx])
        else:
            raise TemplateError(f"error calling index: can't index item of type {go_type(value)}")
    return value


def _fn_slice(value: Any, *idx: Any) -> Any:
    if not isinstance(value, (list, tuple, str)):
        raise TemplateError(f"error calling slice: can't slice item of type {go_type(value)}")
    bounds = [_need_int(i) for i in idx]
    if len(bounds) > 2 or any(not 0 <= b <= len(value) for b in bounds):
        raise TemplateError("error calling slice: index out of range")
    start = bounds[0] if bounds else 0
    stop = bounds[1] if len(bounds) > 1 else len(value)
    if start > stop:
        raise TemplateError(f"error calling slice: invalid slice index: {start} > {stop}")
    return value[start:stop]


def _comparable(a: Any, b: Any) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, num) and isinstance(b, num):
        return True
    return type(a) is type(b) or (isinstance(a, str) and isinstance(b, str))


def _fn_eq(a: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("error calling eq: missing argument for comparison")
    for b in others:
        if a is None or b is None:
            if a is b:
                return True
            continue
        if not _comparable(a, b):
            raise TemplateError("error calling eq: incompatible types for comparison")
        if a == b:
            return True
    return False


def _ordered(name: str, op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        ok = (isinstance(a, str) and isinstance(b, str)) or (
            isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool))
        if not ok:
            if _comparable(a, b) and a is not None:
                raise TemplateError(f"error calling {name}: invalid type for comparison")
            raise TemplateError(f"error calling {name}: incompatible types for comparison")
        return op(a, b)

    return compare


def _fn_title(s: Any) -> str:
    text = _need_str("title", s)
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


def _fn_join(items: Any, sep: Any) -> str:
    if isinstance(items, str):
        return items
    if not isinstance(items, (list, tuple)):
        raise TemplateError(f"wrong type for value; expected []string; got {go_type(items)}")
    return _need_str("join", sep).join(go_str(i) for i in items)


def _fn_split(s: Any, sep: Any) -> list[str]:
    text, separator = _need_str("split", s), _need_str("split", sep)
    if separator == "":
        return list(text)
    return text.split(separator)


def _fn_truncate(s: Any, n: Any) -> str:
    text = _need_str("truncate", s)
    limit = _need_int(n)
    return text[:limit] if limit < len(text) else text


def _fn_pad(s: Any, n: Any, ch: Any = " ") -> str:
    return _need_str("pad", s).ljust(_need_int(n), _need_str("pad", ch)[:1] or " ")


def _sprint(args: tuple, spaces_always: bool) -> str:
    out = ""
    for i, a in enumerate(args):
        if i and (spaces_always or (not isinstance(a, str) and not isinstance(args[i - 1], str))):
            out += " "
        out += go_str(a)
    return out


FUNCS: dict[str, Callable[..., Any]] = {
    "json": _fn_json,
    "lower": lambda s: _need_str("lower", s).lower(),
    "upper": lambda s: _need_str("upper", s).upper(),
    "title": _fn_title,
    "join": _fn_join,
    "split": _fn_split,
    "len": _fn_len,
    "truncate": _fn_truncate,
    "pad": _fn_pad,
    "index": _fn_index,
    "slice": _fn_slice,
    "printf": lambda fmt, *args: sprintf(_need_str("printf", fmt), *args),
    "print": lambda *args: _sprint(args, False),
    "println": lambda *args: _sprint(args, True) + "\n",
    "eq": _fn_eq,
    "ne": lambda a, b: not _fn_eq(a, b),
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    "not": lambda a: not truth(a),
    "and": None,  # short-circuit, handled by the evaluator
    "or": None,
}


# --- printf -------------------------------------------------------------------------------
_VERB_RE = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d+)?)?([a-zA-Z%])")


def sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the common verbs (s d v q x X f e g t c o b %)."""
    out: list[str] = []
    pos = 0
    argi = 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%" and not flags and width is None:
            out.append("%")
            continue
        if width == "*":
            width = str(args[argi]) if argi < len(args) else "0"
            argi += 1
        if prec == "*":
            prec = str(args[argi]) if argi < len(args) else "0"
            argi += 1
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_format_one(verb, flags, width, prec, arg))
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{go_type(a)}={go_str(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(verb: str, flags: str, width: str | None, prec: str | None, arg: Any) -> str:
    is_int = isinstance(arg, int) and not isinstance(arg, bool)
    bad = f"%!{verb}({go_type(arg)}={go_str(arg)})"
    if verb in "sv":
        text = go_str(arg) if verb == "v" or isinstance(arg, str) or not is_int else bad
        if verb == "s" and not isinstance(arg, (str, list, tuple, dict)) and arg is not None and not isinstance(arg, bool):
            text = bad if is_int or isinstance(arg, float) else go_str(arg)
        if verb == "s" and isinstance(arg, bool):
            text = bad
        if prec is not None and verb == "s" and text is not bad:
            text = text[: int(prec)]
    elif verb == "d":
        if not is_int:
            return bad
        text = f"{arg:{'+' if '+' in flags else ''}d}"
    elif verb == "q":
        text = go_quote(arg) if isinstance(arg, str) else ("'" + chr(arg) + "'" if is_int else bad)
    elif verb in "xX":
        if isinstance(arg, str):
            text = arg.encode().hex()
        elif is_int:
            text = format(arg, "x")
        else:
            return bad
        if verb == "X":
            text = text.upper()
    elif verb in "oOb":
        if not is_int:
            return bad
        text = format(arg, "o" if verb != "b" else "b")
        if verb == "O":
            text = "0o" + text
    elif verb in "feEgG":
        if not isinstance(arg, (int, float)) or isinstance(arg, bool):
            return bad
        p = int(prec) if prec is not None else (6 if verb in "feE" else -1)
        if p < 0:
            text = go_str(float(arg)) if verb in "gG" else f"{arg:f}"
        else:
            text = format(float(arg), f"{'+' if '+' in flags else ''}.{p}{verb}")
    elif verb == "t":
        if not isinstance(arg, bool):
            return bad
        text = go_str(arg)
    elif verb == "c":
        if not is_int:
            return bad
        text = chr(arg)
    else:
        return f"%!{verb}({go_type(arg)}={go_str(arg)})"
    if width is not None:
        w = int(width)
        if "-" in flags:
            text = text.ljust(w)
        elif "0" in flags and verb in "dxXobfeEgG":
            sign = text[0] if text[:1] in "+-" else ""
            text = sign + text[len(sign):].rjust(w - len(sign), "0")
        else:
            text = text.rjust(w)
    return text


# --- execution ---------------------------------------------------------------------------
class _Exec:
    def __init__(self, tmpl: "Template", root: Any) -> None:
        self.tmpl = tmpl
        self.vars: list[tuple[str, Any]] = [("$", root)]
        self.out: list[str] = []

    def error(self, node: Node, msg: str, source: str = "") -> TemplateError:
        src = self.tmpl.source
        line = src.count("\n", 0, node.pos) + 1
        col = node.pos - (src.rfind("\n", 0, node.pos) + 1)
        if line == 1:
            col += self.tmpl.col_offset
        name = self.tmpl.name
        where = f" at <{source}>" if source else ""
        return TemplateError(f'template: {name}:{line}:{col}: executing "{name}"{where}: {msg}')

    def lookup_var(self, node: Operand, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise self.error(node, f"undefined variable: {name}")

    def set_var(self, node: Node, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.error(node, f"undefined variable: {name}")

    def walk(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(node.pipe, dot)
                if not node.pipe.decl:
                    self.out.append(self.printable(node, value))
            elif isinstance(node, Branch):
                self.branch(node, dot)
            elif isinstance(node, Control):
                raise _Break() if node.kind == "break" else _Continue()

    def printable(self, node: Node, value: Any) -> str:
        if callable(value) and not isinstance(value, type):
            raise self.error(node, "can't print function value")
        return go_str(value)

    def branch(self, node: Branch, dot: Any) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(node, dot)
                return
            value = self.pipe(node.pipe, dot)
            if truth(value):
                self.walk(node.body, value if node.kind == "with" else dot)
            elif node.else_body is not None:
                del self.vars[mark:]
                self.walk(node.else_body, dot)
        finally:
            del self.vars[mark:]

    def range(self, node: Branch, dot: Any) -> None:
        mark = len(self.vars)
        decl = node.pipe.decl
        pipe = Pipe(node.pipe.pos, [], False, node.pipe.cmds)
        value = self.pipe(pipe, dot)
        if value is None:
            items: list[tuple[Any, Any]] = []
        elif isinstance(value, dict):
            items = [(k, value[k]) for k in sorted(value, key=lambda k: (str(type(k)), k))]
        elif isinstance(value, (list, tuple, str)):
            if isinstance(value, str):
                raise self.error(node, "range can't iterate over " + value)
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif hasattr(value, "__iter__"):
            items = list(enumerate(value))
        else:
            raise self.error(node, f"range can't iterate over {go_str(value)}")
        if not items:
            if node.else_body is not None:
                self.walk(node.else_body, dot)
            return
        for key, elem in items:
            del self.vars[mark:]
            if len(decl) == 1:
                self.vars.append((decl[0], elem))
            elif len(decl) == 2:
                self.vars.append((decl[0], key))
                self.vars.append((decl[1], elem))
            try:
                self.walk(node.body, elem)
            except _Continue:
                continue
            except _Break:
                break
        del self.vars[mark:]

    def pipe(self, pipe: Pipe, dot: Any) -> Any:
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.command(cmd, dot, value)
        if pipe.decl:
            if pipe.assign:
                self.set_var(pipe, pipe.decl[0], value)
            else:
                self.vars.append((pipe.decl[0], value))
        return value

    def command(self, cmd: Command, dot: Any, final: Any) -> Any:
        first = cmd.args[0]
        if first.kind == "ident":
            return self.call(first, cmd.args[1:], dot, final)
        if len(cmd.args) > 1 or final is not _MISSING:
            if first.kind in ("field", "var") and first.chain:
                raise self.error(first, f"{first.chain[-1]} is not a method but has arguments", first.source)
            raise self.error(first, f"can't give argument to non-function {first.source}", first.source)
        return self.operand(first, dot)

    def call(self, fn: Operand, arg_nodes: list[Operand], dot: Any, final: Any) -> Any:
        name = fn.value
        if name in ("and", "or"):
            nodes: list[Any] = list(arg_nodes) + ([_Value(final)] if final is not _MISSING else [])
            if not nodes:
                raise self.error(fn, f"wrong number of args for {name}: want at least 1 got 0", fn.source)
            value: Any = None
            for node in nodes:
                value = node.value if isinstance(node, _Value) else self.operand(node, dot)
                if truth(value) == (name == "or"):
                    return value
            return value
        args = [self.operand(a, dot) for a in arg_nodes]
        if final is not _MISSING:
            args.append(final)
        func = FUNCS[name]
        try:
            return func(*args)
        except TemplateError as exc:
            msg = str(exc)
            if not msg.startswith("error calling"):
                msg = f"error calling {name}: {msg}"
            raise self.error(fn, msg, fn.source) from None
        except TypeError:
            raise self.error(fn, f"wrong number of args for {name}: got {len(args)}", fn.source) from None

    def operand(self, op: Operand, dot: Any) -> Any:
        if op.kind == "field":
            base = dot
        elif op.kind == "dot":
            base = dot
        elif op.kind == "var":
            base = self.lookup_var(op, op.value)
        elif op.kind == "const":
            return op.value
        elif op.kind == "nil":
            raise self.error(op, "nil is not a command", "nil")
        elif op.kind == "pipe":
            base = self.pipe(op.value, dot)
        elif op.kind == "ident":
            return self.call(op, [], dot, _MISSING)
        else:  # pragma: no cover
            raise self.error(op, f"unknown operand {op.kind}")
        for name in op.chain:
            base = self.field(op, base, name)
        return base

    def field(self, op: Operand, value: Any, name: str) -> Any:
        if isinstance(value, _Headers):
            return value.get(name)
        if isinstance(value, HeaderName):
            return value
        if value is None:
            raise self.error(op, f"nil pointer evaluating interface {{}}.{name}", op.source)
        if isinstance(value, dict):
            if name in value:
                return value[name]
            if getattr(type(value), "go_kind", "") == "nilmap":
                return None  # a missing key of a nil map: <no value>
            if _struct_like(value) and name[:1].isupper():
                raise self.error(op, f"can't evaluate field {name} in type {go_type(value)}", op.source)
            return "" if all(isinstance(v, str) for v in value.values()) else None
        if isinstance(value, (str, int, float, bool, list, tuple, set, bytes)) or name.startswith("_"):
            raise self.error(op, f"can't evaluate field {name} in type {go_type(value)}", op.source)
        try:
            attr = getattr(value, name)
        except AttributeError:
            raise self.error(op, f"can't evaluate field {name} in type {go_type(value)}", op.source) from None
        except TemplateError:
            raise
        except Exception as exc:  # noqa: BLE001 - a property failed
            raise self.error(op, f"error calling {name}: {exc}", op.source) from None
        if callable(attr) and not isinstance(attr, type):
            try:
                return attr()
            except TypeError:
                raise self.error(op, f"{name} has arguments but cannot be called without them", op.source) from None
        return attr


class _Value:
    def __init__(self, value: Any) -> None:
        self.value = value


_MISSING: Any = object()


class Template:
    """A parsed template; ``execute(data)`` renders it (raises TemplateError)."""

    def __init__(self, source: str, name: str = "template", col_offset: int = 0) -> None:
        self.source = source
        self.name = name
        # podman wraps a user format in "{{range .}}...{{end -}}": errors on line 1 count those columns
        self.col_offset = col_offset
        try:
            self.nodes = _Parser(source, name).parse()
        except RecursionError:
            raise TemplateError(f"template: {name}: too deeply nested") from None

    def execute(self, data: Any) -> str:
        """Render with ``data`` as dot; TemplateError on failure."""
        run = _Exec(self, data)
        try:
            run.walk(self.nodes, data)
        except RecursionError:
            raise TemplateError(f"template: {self.name}: exceeded maximum template depth") from None
        return "".join(run.out)


def unescape(fmt: str) -> str:
    """Podman's treatment of a user --format: literal ``\\t`` / ``\\n`` become tab / newline."""
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


@lru_cache(maxsize=128)
def _compile(template: str, name: str, col_offset: int = 0) -> Template:
    return Template(unescape(template), name, col_offset)


def compile(template: str, name: str = "template", col_offset: int = 0) -> Template:  # noqa: A001
    """Parse ``template`` once (cached); TemplateError when it cannot be parsed."""
    return _compile(template, name, col_offset)


RANGE_OFFSET = len("{{range .}}")  # podman's wrapper around ps/inspect formats


def render(template: str, data: Any, name: str = "template", col_offset: int = 0) -> str:
    """Render ``template`` with ``data`` (dicts, lists, objects with attributes/properties)."""
    return compile(template, name, col_offset).execute(data)


_TABLE_RE = re.compile(r"^table(\s|$)")


def is_table(fmt: str) -> bool:
    """True when ``fmt`` starts with the word "table" followed by a template."""
    return bool(re.match(r"^table\s", fmt or ""))


def is_json(fmt: str) -> bool:
    """True when ``fmt`` is "json" (podman's --format json)."""
    return (fmt or "").strip() == "json"


def _spaces_to_tabs(fmt: str) -> str:
    """In a table template, spaces in the text between actions separate columns."""
    out = []
    pos = 0
    for m in re.finditer(r"\{\{.*?\}\}", fmt, flags=re.S):
        out.append(fmt[pos:m.start()].replace(" ", "\t"))
        out.append(m.group(0))
        pos = m.end()
    out.append(fmt[pos:].replace(" ", "\t"))
    return "".join(out)


def render_rows(fmt: str, rows: list[Any], headers: dict[str, str] | None = None, name: str = "template",
                header: bool = True, col_offset: int = 0) -> str:
    """Render ``fmt`` once per row (each ending with a newline); with a "table" prefix add a
    header row (``headers`` overrides the derived names) and align the columns like podman."""
    table = is_table(fmt)
    body = re.sub(r"^table\s+", "", fmt) if table else fmt
    body = unescape(body)
    if table:
        body = _spaces_to_tabs(body.strip())
    tmpl = compile(body, name, 0 if table else col_offset)
    lines: list[str] = []
    if table and header:
        lines.append(tmpl.execute(_Headers(headers or {})))
    for row in rows:
        lines.append(tmpl.execute(row))
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if table:
        from pypod.cli.tabwriter import align_tabbed

        return align_tabbed(text)
    return text
