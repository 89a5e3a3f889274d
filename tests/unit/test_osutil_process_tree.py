"""osutil.run_captured (posix_spawn helper) and osutil.remove_tree (shutil-free small trees)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pypod.libpod.osutil import remove_tree, run_captured


def test_run_captured_feeds_stdin_and_captures_both_streams() -> None:
    res = run_captured(["sh", "-c", "cat; echo err >&2; exit 3"], input=b'{"x": 1}')
    assert (res.returncode, res.stdout, res.stderr) == (3, '{"x": 1}', "err\n")


def test_run_captured_without_input_reads_eof() -> None:
    assert run_captured(["cat"]).stdout == ""


def test_run_captured_timeout_kills() -> None:
    with pytest.raises(TimeoutError):
        run_captured(["sleep", "30"], timeout=0.3)


def test_run_captured_missing_program_is_oserror() -> None:
    with pytest.raises(OSError):
        run_captured(["/nonexistent/program"])


def test_remove_tree_small_deep_and_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    small = tmp_path / "small"
    (small / "a" / "b").mkdir(parents=True)
    (small / "a" / "b" / "f").write_text("f")
    os.symlink(outside, small / "link")  # never followed
    remove_tree(str(small))
    assert not small.exists() and (outside / "keep").exists()
    deep = tmp_path / "deep"
    (deep / "1" / "2" / "3" / "4" / "5").mkdir(parents=True)
    (deep / "1" / "2" / "3" / "4" / "5" / "f").write_text("f")
    remove_tree(str(deep))  # deeper than the walk: shutil finishes it
    assert not deep.exists()
    remove_tree(str(tmp_path / "missing"))  # nothing there: no error


def test_lock_held_sees_a_live_holder_only(tmp_path: Path) -> None:
    import fcntl

    from pypod.libpod.osutil import lock_held

    path = tmp_path / "x.lock"
    assert lock_held(str(path)) is False  # no file: no holder
    path.write_text("")
    assert lock_held(str(path)) is False
    # -o: only flock(1) holds the lock, not its sleep; a session of their own to kill both
    holder = subprocess.Popen(["flock", "-o", str(path), "sleep", "30"], start_new_session=True)
    try:
        from pypodcli import wait_for

        wait_for(lambda: lock_held(str(path)), 20, message="flock(1) holding the lock")
    finally:
        os.killpg(holder.pid, 9)
        holder.wait()
    assert lock_held(str(path)) is False  # the kernel dropped the dead holder's lock
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # held by this very process: the probe is another fd, so held
        assert lock_held(str(path)) is True
    finally:
        os.close(fd)
