"""The fast paths of the performance work keep the slow paths' behaviour.

The lean exit command (pypod/cleanup.py), `ps`'s default table without the template
engine, `from_dict` without the generated ``__init__``, and ``inspect`` loaded on first use.
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from pypod.cleanup import exit_command, main as cleanup_main
from pypod.cli import gotemplate
from pypod.cli.commands.ps import DEFAULT_FORMAT, HEADERS, _default_table
from pypod.libpod.container.model import ContainerConfig, ContainerState, HealthConfig


def _roots(tmp_path) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), "--tmpdir", str(tmp_path / "tmp")]


def test_exit_command_is_isolated_and_names_the_container(tmp_path) -> None:  # type: ignore[no-untyped-def]
    argv = exit_command(_roots(tmp_path), "abc123")
    assert argv[0] == sys.executable
    assert argv[1:4] == ["-I", "-S", "-c"]
    assert argv[-1] == "abc123"
    assert argv[5:-1] == _roots(tmp_path)


def test_exit_command_runs_without_site_for_an_unknown_container(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # PYTHONPATH is ignored under -I: the bootstrap must find the package by itself.
    env = dict(os.environ, PYTHONPATH="/nonexistent")
    res = subprocess.run(exit_command(_roots(tmp_path), "f" * 64), capture_output=True, timeout=60, env=env)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert res.stderr == b""


def test_cleanup_main_refuses_unknown_global_flags_quietly(capsys) -> None:  # type: ignore[no-untyped-def]
    assert cleanup_main(["--no-such-flag", "x"]) == 125
    assert capsys.readouterr().err == ""


def _row(i: int, **kw: str) -> SimpleNamespace:
    values = dict(ID=f"{i:012x}", Image="localhost/busybox:latest", Command="sleep 100", CreatedHuman="2 minutes ago",
                  Status="Exited (0) 2 minutes ago", Ports="", Names=f"ctr{i}", Size="12B (virtual 1.2MB)")
    values.update(kw)
    return SimpleNamespace(**values)


@pytest.mark.parametrize("heading", [True, False])
@pytest.mark.parametrize("size", [True, False])
def test_default_table_matches_the_template_renderer(heading: bool, size: bool) -> None:
    rows = [_row(0), _row(1, Ports="0.0.0.0:8080->80/tcp", Names="a-much-longer-name"), _row(2, Command="")]
    fmt = DEFAULT_FORMAT + ("\t{{.Size}}" if size else "")
    if not heading:
        fmt = fmt[len("table"):].lstrip()
    assert _default_table(rows, heading=heading, size=size) == gotemplate.render_rows(fmt, rows, HEADERS)


def test_default_table_without_rows() -> None:
    assert _default_table([], heading=False, size=False) == ""
    assert _default_table([], heading=True, size=False) == gotemplate.render_rows(DEFAULT_FORMAT, [], HEADERS)


def test_from_dict_round_trips_full_and_partial_records() -> None:
    cfg = ContainerConfig(id="a" * 64, name="n", created="2024-01-01T00:00:00Z", labels={"k": "v"},
                          healthcheck=HealthConfig(test=["CMD", "true"], interval=1.0))
    again = ContainerConfig.from_dict(cfg.to_dict())
    assert again == cfg and isinstance(again.healthcheck, HealthConfig)
    partial = ContainerConfig.from_dict({"id": "b", "name": "m", "created": "x", "unknown_field": 1})
    assert partial == ContainerConfig(id="b", name="m", created="x")
    state = ContainerState(status="running", pid=42)
    assert ContainerState.from_dict(state.to_dict()) == state


def test_inspect_is_loaded_on_first_use_only() -> None:
    code = (
        "import sys; import pypod.libpod.container.model, pypod.libpod.config, pypod.libpod.state.db\n"
        "assert type(sys.modules['inspect']).__name__ == '_Deferred', type(sys.modules['inspect'])\n"
        "import inspect\n"
        "assert str(inspect.signature(lambda a, b=1: a)) == '(a, b=1)'\n"
        "import inspect as again\n"
        "assert hasattr(again, 'getsource')\n"
    )
    src = os.path.dirname(os.path.dirname(os.path.abspath(gotemplate.__file__)))
    res = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {os.path.dirname(src)!r})\n" + code],
                         capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr.decode(errors="replace")


def _align_by_blocks(text: str, padding: int, minwidth: int) -> str:
    """The general (Go block) layout, without the uniform-table shortcut."""
    from pypod.cli.tabwriter import _layout

    raw = text.split("\n")
    trailing = text.endswith("\n")
    if trailing:
        raw.pop()
    lines = [line.split("\t") for line in raw]
    widths = _layout(lines, minwidth, padding)
    out = ["".join(c.ljust(w[j]) if j < len(cells) - 1 else c for j, c in enumerate(cells)) for cells, w in zip(lines, widths)]
    return "\n".join(out) + ("\n" if trailing else "")


def test_uniform_table_shortcut_matches_the_block_layout() -> None:
    import random

    from pypod.cli.tabwriter import align_tabbed

    rnd = random.Random(7)
    cells = ["", "a", "abc", "x" * 15, "héllo", "日本", "a b"]
    for _ in range(500):
        n = rnd.randint(1, 5)
        text = "\n".join("\t".join(rnd.choice(cells) for _c in range(n)) for _r in range(rnd.randint(0, 6)))
        text += rnd.choice(["\n", ""])
        for padding, minwidth in ((2, 12), (1, 0)):
            assert align_tabbed(text, padding, minwidth) == _align_by_blocks(text, padding, minwidth), repr(text)
