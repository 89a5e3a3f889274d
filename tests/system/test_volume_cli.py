"""`pypod volume ...` as a user types it (podman's flags, output and exit codes)."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest


def _missing_modules() -> str | None:
    for mod in ("pypod.libpod.runtime", "pypod.libpod.state.db", "pypod.cli.main"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not written yet"
    return None


pytestmark = pytest.mark.skipif(_missing_modules() is not None, reason=_missing_modules() or "")


def test_create_ls_inspect_rm(pypod) -> None:  # type: ignore[no-untyped-def]
    assert pypod.ok("volume", "create", "v1").out == "v1\n"
    pypod.ok("volume", "create", "--label", "a=b", "-o", "uid=1000", "myvolume-long-name")
    ls = pypod.ok("volume", "ls").out
    assert ls == "DRIVER      VOLUME NAME\nlocal       myvolume-long-name\nlocal       v1\n"
    assert pypod.ok("volume", "ls", "-q").out == "myvolume-long-name\nv1\n"
    assert pypod.ok("volume", "ls", "--format", "table {{.Name}} {{.Driver}}").out == (
        "VOLUME NAME         DRIVER\nmyvolume-long-name  local\nv1                  local\n"
    )
    assert pypod.ok("volume", "ls", "--filter", "label=a=b", "--format", "{{.Name}}").out == "myvolume-long-name\n"
    doc = json.loads(pypod.ok("volume", "inspect", "v1").out)
    assert doc[0]["Name"] == "v1" and doc[0]["Driver"] == "local" and doc[0]["Scope"] == "local"
    assert doc[0]["Mountpoint"] == os.path.join(pypod.root, "volumes", "v1", "_data")
    assert os.path.isdir(doc[0]["Mountpoint"])
    assert set(doc[0]) >= {"CreatedAt", "Labels", "Options", "MountCount", "NeedsCopyUp", "NeedsChown"}
    assert pypod.ok("volume", "inspect", "--format", "{{.Labels.a}}", "myvolume-long-name").out == "b\n"
    assert os.stat(os.path.join(pypod.root, "volumes", "myvolume-long-name", "_data")).st_uid == 1000

    dup = pypod("volume", "create", "v1")
    assert dup.rc == 125 and "volume with name v1 already exists" in dup.err
    assert pypod("volume", "create", "--ignore", "v1").rc == 0

    assert pypod("volume", "exists", "v1").rc == 0
    assert pypod("volume", "exists", "nope").rc == 1
    missing = pypod("volume", "rm", "nope")
    assert missing.rc != 0 and 'no volume with name "nope" found: no such volume' in missing.err
    assert pypod("volume", "inspect", "nope").rc == 125

    assert pypod.ok("volume", "rm", "v1").out == "v1\n"
    assert not os.path.exists(os.path.join(pypod.root, "volumes", "v1"))
    assert pypod.ok("volume", "prune", "-f").out == "myvolume-long-name\n"
    assert pypod.ok("volume", "ls", "-q").out == ""

    events = pypod.ok("events", "--stream=false", "--filter", "type=volume").out.splitlines()
    assert [" ".join(e.split()[4:]) for e in events] == [
        "volume create v1", "volume create myvolume-long-name", "volume remove v1",
        "volume remove myvolume-long-name", "volume prune myvolume-long-name",
    ]
    fmt = pypod.ok("events", "--stream=false", "--filter", "event=prune", "--format", "{{.Type}}/{{.Name}}").out
    assert fmt == "volume/myvolume-long-name\n"
    bad = pypod("events", "--stream=false", "--format", "{{.Nope}}")
    assert bad.rc == 125 and "can't evaluate field Nope" in bad.err


def test_volume_in_use_refuses_rm(busybox_pypod) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    p.ok("volume", "create", "data")
    cid = p.ok("create", "--network", "none", "-v", "data:/data", "localhost/busybox", "true").out.strip()
    res = p("volume", "rm", "data")
    assert res.rc == 2  # podman: a volume in use exits 2
    assert f"volume data is being used by the following container(s): {cid}: volume is being used" in res.err
    assert p.ok("volume", "prune", "-f").out == ""
    p.ok("volume", "rm", "-f", "data")
    assert p("volume", "exists", "data").rc == 1
    assert p("container", "exists", cid).rc == 1
