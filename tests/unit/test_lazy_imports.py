"""Guards of the lean start-up: names imported only for type checking are never used at run time.

pypod imports `typing` (and other heavy modules) only under ``if TYPE_CHECKING:`` to keep each
command's start-up short.  A name imported there but used in code that runs fails only on the
path that reaches it (one such slip once broke CI); this test finds them statically.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "pypod"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes that run: no TYPE_CHECKING bodies, no annotations (strings at run time)."""
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        return list(node.orelse)
    if isinstance(node, ast.AnnAssign):
        return [node.target] + ([node.value] if node.value is not None else [])
    if isinstance(node, ast.arg):
        return []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return list(node.body)
    if isinstance(node, ast.arguments):
        return [d for d in [*node.defaults, *node.kw_defaults] if d is not None]
    return list(ast.iter_child_nodes(node))


def _header(node: ast.AST) -> list[ast.AST]:
    """The parts of a def/class that run in the enclosing scope."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [*node.decorator_list, *_children(node.args)]
    if isinstance(node, ast.ClassDef):
        return [*node.bases, *node.keywords, *node.decorator_list]
    if isinstance(node, ast.Lambda):
        return _children(node.args)
    return []


def _bindings(body: list[ast.AST], params: ast.arguments | None = None) -> set[str]:
    """Names bound in one scope (not in the scopes nested in it)."""
    bound: set[str] = set()
    if params is not None:
        for arg in [*params.posonlyargs, *params.args, *params.kwonlyargs, params.vararg, params.kwarg]:
            if arg is not None:
                bound.add(arg.arg)
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend(_header(node))
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(_header(node))
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.Import):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            bound.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        stack.extend(_children(node))
    return bound


def _unbound_uses(body: list[ast.AST], visible: set[str], suspects: set[str], out: list[tuple[str, int]],
                  params: ast.arguments | None = None, is_class: bool = False) -> None:
    """Loads of ``suspects`` not bound in this scope or an enclosing one (recursing into nested scopes)."""
    here = _bindings(body, params)
    scope_visible = visible | here
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(_header(node))
            inner = visible if is_class else scope_visible  # methods do not see the class body
            _unbound_uses(list(node.body), inner, suspects, out, node.args)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(_header(node))
            _unbound_uses([node.body], visible if is_class else scope_visible, suspects, out, node.args)
            continue
        if isinstance(node, ast.ClassDef):
            stack.extend(_header(node))
            _unbound_uses(list(node.body), scope_visible, suspects, out, is_class=True)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in suspects and node.id not in scope_visible:
                out.append((node.id, node.lineno))
        stack.extend(_children(node))


def _type_checking_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, ast.Import):
                        names.update((a.asname or a.name).split(".")[0] for a in sub.names)
                    elif isinstance(sub, ast.ImportFrom):
                        names.update(a.asname or a.name for a in sub.names)
    return names


def _slips(tree: ast.Module) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    suspects = _type_checking_names(tree)
    if suspects:
        _unbound_uses(list(tree.body), set(), suspects, out)
    return sorted(set(out), key=lambda item: item[1])


def test_checker_finds_a_slip() -> None:
    tree = ast.parse(
        "TYPE_CHECKING = False\n"
        "if TYPE_CHECKING:\n    import ctypes\n    from typing import Any, cast\n"
        "def f(x: Any) -> Any:\n    return ctypes.c_int(1)\n"
        "def g():\n    import ctypes\n    return cast(int, ctypes)\n"
    )
    assert _slips(tree) == [("ctypes", 6), ("cast", 9)]


def test_type_checking_imports_are_not_used_at_run_time() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        problems += [f"{path.relative_to(SRC.parent)}:{line}: {name}" for name, line in _slips(tree)]
    assert not problems, "imported only under TYPE_CHECKING but used at run time: " + ", ".join(problems)


def _run_lean(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter started as the launcher starts pypod (-I -S, src on the path)."""
    boot = f"import sys; sys.path.insert(0, {str(SRC.parent)!r})\n"
    return subprocess.run([sys.executable, "-I", "-S", "-c", boot + code], capture_output=True, text=True)


def test_short_commands_import_no_typing_nor_dataclasses() -> None:
    """The modules behind `ps`, `images` and `--version` stay free of the heavy stdlib modules."""
    code = (
        "import sys\n"
        "import pypod.cli.main, pypod.cli.commands.ps, pypod.cli.commands.images\n"
        "import pypod.libpod.runtime, pypod.libpod.config, pypod.libpod.state.db\n"
        "heavy = [m for m in ('typing', 'dataclasses', 'datetime', 'shutil', 'threading') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    res = _run_lean(code)
    assert res.returncode == 0 and res.stdout.strip() == "", f"imported at start-up: {res.stdout}{res.stderr}"


def test_argparse_is_imported_without_gettext() -> None:
    code = (
        "import sys\n"
        "from pypod.cli.main import _make_parser\n"
        "parser = _make_parser('pypod ps', 'List containers')\n"
        "parser.add_argument('-a', action='store_true')\n"
        "assert parser.parse_args(['-a']).a\n"
        "assert 'gettext' not in sys.modules, 'gettext imported'\n"
        "import gettext\n"
        "assert hasattr(gettext, 'translation'), 'the stand-in leaked'\n"
        "print('ok')\n"
    )
    res = _run_lean(code)
    assert res.stdout.strip() == "ok", res.stderr


def test_the_engine_does_not_import_the_command_line() -> None:
    """libpod is the engine (DESIGN.md's layers): it never reaches up into pypod.cli, except the
    healthcheck scheduler's process entry point, which reads the same global options."""
    allowed = {("libpod/healthcheck.py", "scheduler_main")}
    problems = []
    for path in sorted((SRC / "libpod").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for func in [None, *[n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]]:
            body = tree.body if func is None else func.body
            for node in body if func is None else ast.walk(func):
                module = getattr(node, "module", None) if isinstance(node, ast.ImportFrom) else None
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if (module or "").startswith("pypod.cli") or any(n.startswith("pypod.cli") for n in names):
                    where = (str(path.relative_to(SRC)), func.name if func else "<module>")
                    if where not in allowed:
                        problems.append(f"{where[0]}:{node.lineno} ({where[1]})")
    assert not problems, "libpod imports pypod.cli: " + ", ".join(sorted(set(problems)))
