"""Unit tests of the OCI helpers that need no runtime: messages, error mapping, exit files, detach keys."""

from __future__ import annotations

import os

import pytest

from pypod.errors import CommandNotExecutable, CommandNotFound, InvalidArgument, OCIRuntimeError
from pypod.libpod.oci.attach import _DetachMatcher, parse_detach_keys
from pypod.libpod.oci.conmon import ConmonRequest, classify_runtime_error, conmon_args
from pypod.libpod.oci.exitfile import read_exit
from pypod.libpod.oci.runtime import runtime_message


def test_runtime_message_strips_logrus_wrapping():
    text = 'time="2024-01-01T00:00:00Z" level=error msg="container \\"x\\" does not exist"\n'
    assert runtime_message(text) == 'container "x" does not exist'
    assert runtime_message('{"level":"error","msg":"boom","time":"t"}\n') == "boom"
    assert runtime_message('time="t" level=warning msg="meh"\nplain words\n') == "plain words"


def test_classify_runtime_error():
    nf = classify_runtime_error("runc", 'runc create failed: exec: "x": executable file not found in $PATH')
    assert isinstance(nf, CommandNotFound) and nf.exit_code == 127
    assert str(nf).startswith("runc: runc create failed") and str(nf).endswith(
        "OCI runtime attempted to invoke a command that was not found")
    pd = classify_runtime_error("runc", "exec: /etc: permission denied")
    assert isinstance(pd, CommandNotExecutable) and pd.exit_code == 126
    other = classify_runtime_error("runc", "something else")
    assert type(other) is OCIRuntimeError and other.exit_code == 125


def test_conmon_args_order():
    req = ConmonRequest(ctr_id="c1", name="n", bundle="/b", runtime_path="/usr/sbin/runc", runtime_root="/s",
                        exit_dir="/e", persist_dir="/p", log_path="/b/ctr.log", pid_file="/r/pidfile",
                        conmon_pid_file="/r/conmon.pid", exit_command=["/bin/pypod", "cleanup", "c1"],
                        terminal=True, conmon_path="conmon")
    args = conmon_args(req)
    assert args[:5] == ["conmon", "--api-version", "1", "-c", "c1"]
    assert ["--runtime-arg", "--root", "--runtime-arg", "/s"] == args[args.index("--runtime-arg"):][:4]
    assert "-t" in args and "-i" not in args
    assert args[-6:] == ["--exit-command", "/bin/pypod", "--exit-command-arg", "cleanup", "--exit-command-arg", "c1"]
    assert "k8s-file:/b/ctr.log" in args


def test_read_exit(tmp_path):
    exits, persist = tmp_path / "exits", tmp_path / "persist" / "c1"
    exits.mkdir()
    persist.mkdir(parents=True)
    assert read_exit(str(exits), str(persist), "c1") is None
    (exits / "c1").write_text("")
    assert read_exit(str(exits), str(persist), "c1") is None
    (exits / "c1").write_text("137")
    os.utime(exits / "c1", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    info = read_exit(str(exits), str(persist), "c1")
    assert info.code == 137 and not info.oom
    assert info.finished_at == "2023-11-14T22:13:20.123456789Z"
    (exits / "c1").unlink()
    (persist / "exit").write_text("0")
    (persist / "oom").write_text("")
    info = read_exit(str(exits), str(persist), "c1")
    assert info.code == 0 and info.oom


def test_detach_keys():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("") == b""
    assert parse_detach_keys("a,ctrl-[") == b"a\x1b"
    with pytest.raises(InvalidArgument):
        parse_detach_keys("ctrl-pp")
    m = _DetachMatcher(b"\x10\x11")
    assert m.feed(b"ab\x10") == (b"ab", False)
    assert m.feed(b"x") == (b"\x10x", False)
    assert m.feed(b"\x10\x11tail") == (b"", True)
    assert _DetachMatcher(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
