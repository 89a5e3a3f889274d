"""OCI hooks 1.0.0: loading, matching, precreate and poststop."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pypod.errors import InvalidArgument, OCIRuntimeError
from pypod.libpod import hooks as hk

SPEC = {"ociVersion": "1.0.2", "process": {"args": ["/bin/sh", "-c", "true"]},
        "annotations": {"io.example/flag": "on"}, "mounts": [{"destination": "/d", "type": "bind",
                                                              "source": "/tmp", "options": ["rbind"]}]}


def script(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def hook_file(directory: Path, name: str, path: str, stages: list[str], when: dict | None = None,
              **hook: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"version": "1.0.0", "hook": {"path": path, **hook}, "when": when or {"always": True}, "stages": stages}
    (directory / name).write_text(json.dumps(doc))


def test_load_order_and_override(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    true = script(bin_dir, "t", "exit 0\n")
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    hook_file(d1, "b.json", true, ["prestart"])
    hook_file(d1, "A.json", true, ["poststop"], args=["first"])
    hook_file(d2, "A.json", true, ["poststop"], args=["second"])
    hook_file(d2, "c.json", true, ["precreate"])
    (d2 / "ignored.txt").write_text("x")
    hooks = hk.load_hooks([str(d1), str(d2), str(tmp_path / "missing")])
    assert [h.file for h in hooks] == ["A.json", "b.json", "c.json"]
    assert hooks[0].args == ["second"]
    assert [h.file for h in hk.hooks_for_stage(hooks, "poststop")] == ["A.json"]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ("{not json", "parsing hook"),
        (json.dumps({"version": "1.0.0", "hook": {"path": "/nonexistent/x"}, "when": {"always": True},
                     "stages": ["prestart"]}), "no such file"),
        (json.dumps({"version": "2", "hook": {"path": "/bin/sh"}, "when": {"always": True},
                     "stages": ["prestart"]}), "version"),
        (json.dumps({"version": "1.0.0", "hook": {"path": "/bin/sh"}, "when": {},
                     "stages": ["prestart"]}), "no when conditions"),
        (json.dumps({"version": "1.0.0", "hook": {"path": "/bin/sh"}, "when": {"always": True},
                     "stages": ["bogus"]}), "unknown stage"),
        (json.dumps({"version": "1.0.0", "hook": {"path": "/bin/sh"}, "when": {"commands": ["("]},
                     "stages": ["prestart"]}), "regular expression"),
    ],
)
def test_invalid_hook_names_file(tmp_path: Path, doc: str, fragment: str) -> None:
    (tmp_path / "bad.json").write_text(doc)
    with pytest.raises(InvalidArgument) as info:
        hk.load_hooks([str(tmp_path)])
    assert "bad.json" in str(info.value) and fragment in str(info.value)


def test_matching_rules() -> None:
    def hook(**when: object) -> hk.Hook:
        return hk.Hook(file="h.json", path="/bin/true", stages=["prestart"],
                       always=when.get("always"), annotations=when.get("annotations") or {},  # type: ignore[arg-type]
                       commands=when.get("commands") or [], has_bind_mounts=when.get("bind"))  # type: ignore[arg-type]

    assert hook(always=True).matches(SPEC)
    assert not hook(always=False).matches(SPEC)
    assert hook(annotations={r"^io\.example/": "^on$"}).matches(SPEC)
    assert not hook(annotations={"io.example/flag": "off"}).matches(SPEC)
    assert hook(commands=["sh$"]).matches(SPEC)
    assert not hook(commands=["^/bin/bash$"]).matches(SPEC)
    assert hook(bind=True).matches(SPEC)
    assert not hook(bind=True).matches({**SPEC, "mounts": []})
    # conditions are ANDed
    assert not hook(always=True, commands=["nomatch"]).matches(SPEC)
    assert hook(always=True, commands=["sh"], annotations={"flag": "on"}).matches(SPEC)
    assert not hook().matches(SPEC)


def test_precreate_edits_spec_and_runtime_stages_go_to_spec(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    editor = script(bin_dir, "edit", "sed 's/\"ociVersion\"/\"hooked\":true,\"ociVersion\"/'\n")
    true = script(bin_dir, "t", "exit 0\n")
    d = tmp_path / "hooks.d"
    hook_file(d, "01-edit.json", editor, ["precreate"])
    hook_file(d, "02-prestart.json", true, ["prestart", "poststart"], args=["t", "x"], timeout=5)
    hook_file(d, "03-never.json", true, ["prestart"], when={"commands": ["^nomatch$"]})
    hooks = hk.load_hooks([str(d)])
    spec = hk.run_precreate(hooks, dict(SPEC))
    assert spec["hooks"] == {"prestart": [{"path": true, "args": ["t", "x"], "timeout": 5}],
                             "poststart": [{"path": true, "args": ["t", "x"], "timeout": 5}]}
    assert spec.get("hooked") is True
    assert hk.spec_hooks(hooks, SPEC) == {k: v for k, v in spec["hooks"].items()}


def test_precreate_failures_raise(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    d = tmp_path / "hooks.d"
    hook_file(d, "fail.json", script(bin_dir, "fail", "echo broken >&2; exit 3\n"), ["precreate"])
    with pytest.raises(OCIRuntimeError, match="exit status 3: broken"):
        hk.run_precreate(hk.load_hooks([str(d)]), dict(SPEC))
    d2 = tmp_path / "hooks2.d"
    hook_file(d2, "slow.json", script(bin_dir, "slow", "exec sleep 30\n"), ["precreate"], timeout=1)
    with pytest.raises(OCIRuntimeError, match="timed out"):
        hk.run_precreate(hk.load_hooks([str(d2)]), dict(SPEC))
    d3 = tmp_path / "hooks3.d"
    hook_file(d3, "garbage.json", script(bin_dir, "garbage", "echo not-json\n"), ["precreate"])
    with pytest.raises(OCIRuntimeError, match="valid JSON"):
        hk.run_precreate(hk.load_hooks([str(d3)]), dict(SPEC))


def test_poststop_gets_state_and_failures_are_returned(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    out = tmp_path / "state.json"
    d = tmp_path / "hooks.d"
    hook_file(d, "a.json", script(bin_dir, "save", f"cat > {out}\necho \"$FOO\" > {out}.env\n"), ["poststop"],
              env=["FOO=bar"])
    hook_file(d, "b.json", script(bin_dir, "fail", "exit 1\n"), ["poststop"])
    state = {"ociVersion": "1.0.2", "id": "abc", "status": "stopped", "bundle": "/b"}
    errors = hk.run_poststop(hk.load_hooks([str(d)]), SPEC, state)
    assert json.loads(out.read_text()) == state
    assert Path(f"{out}.env").read_text().strip() == "bar"
    assert len(errors) == 1 and "exit status 1" in errors[0]
    assert os.path.exists(out)
