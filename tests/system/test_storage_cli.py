"""export, commit, diff, cp, mount and umount through the CLI (real overlayfs, runc, conmon)."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile

import pytest

from pypodcli import Pypod, mounts_under, wait_for


def _run_in(p: Pypod, name: str, script: str) -> None:
    """Create a container ``name`` that runs ``script`` and let it finish (exit 0)."""
    p.ok("create", "--name", name, "localhost/busybox", "sh", "-c", script)
    p.ok("start", "-a", name, timeout=60)


def _one_line_error(r) -> None:  # type: ignore[no-untyped-def]
    assert r.rc == 125, r.describe()
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.describe()


def test_export_contains_rootfs_and_written_file(busybox_pypod: Pypod, tmp_path) -> None:
    p = busybox_pypod
    _run_in(p, "ex", "echo exported > /written.txt")
    out = tmp_path / "ex.tar"
    p.ok("export", "-o", str(out), "ex")
    with tarfile.open(out) as tf:
        names = set(n.lstrip("./") for n in tf.getnames())
        assert "bin/busybox" in names
        assert tf.extractfile("written.txt").read() == b"exported\n"  # type: ignore[union-attr]
    # `start -a` returns once the container stopped; conmon's exit command unmounts it a bit
    # later, so wait for that before checking that exporting leaves nothing mounted.
    storage = os.path.join(p.root, "storage")
    wait_for(lambda: not mounts_under(storage), timeout=30, message="cleanup of the exited container")
    # to stdout, for a container that never ran; nothing stays mounted
    p.ok("create", "--name", "fresh", "localhost/busybox", "true")
    r = p("export", "fresh")
    assert r.rc == 0, r.describe()
    assert not mounts_under(storage)


def test_export_stdout_bytes_and_missing(busybox_pypod: Pypod) -> None:
    import subprocess

    p = busybox_pypod
    p.ok("create", "--name", "fresh", "localhost/busybox", "true")
    proc = subprocess.run(p.argv("export", "fresh"), capture_output=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tf:
        assert "bin/busybox" in [n.lstrip("./") for n in tf.getnames()]
    _one_line_error(p("export", "-o", "/dev/null", "nosuchctr"))


def _env() -> dict[str, str]:
    from pypodcli import _child_env

    return _child_env()


def test_diff_lists_added_changed_deleted(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    _run_in(p, "df", "echo x > /etc/new; rm /etc/group; mkdir -p /a/b")
    lines = p.ok("diff", "df").out.splitlines()
    assert lines == ["A /a", "A /a/b", "C /etc", "D /etc/group", "A /etc/new"], lines
    import json

    data = json.loads(p.ok("diff", "--format", "json", "df").out)
    assert data == {"changed": ["/etc"], "added": ["/a", "/a/b", "/etc/new"], "deleted": ["/etc/group"]}
    image_lines = p.ok("diff", "localhost/busybox").out.splitlines()
    assert "A /bin/busybox" in image_lines
    _one_line_error(p("diff", "nosuchthing"))
    _one_line_error(p("diff", "--format", "table", "df"))


def test_commit_then_run_new_image(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    _run_in(p, "cm", "echo committed > /kept.txt; rm /etc/group")
    r = p.ok("commit", "-q", "-c", 'CMD ["cat", "/kept.txt"]', "-a", "tester", "cm", "committed")
    image_id = r.out.strip()
    assert len(image_id) == 64 and all(c in "0123456789abcdef" for c in image_id), r.describe()
    # CMD from --change runs, the file written is there
    assert p.ok("run", "--rm", "localhost/committed").out == "committed\n"
    # the deleted file is gone in the new image
    gone = p("run", "--rm", "committed", "cat", "/etc/group")
    assert gone.rc != 0 and "No such file" in gone.out + gone.err, gone.describe()
    assert p.ok("run", "--rm", "committed", "cat", "/etc/passwd").out.startswith("root:")
    # without -q the ID is still the only thing on stdout
    r2 = p.ok("commit", "cm", "committed2")
    events = p.ok("events", "--stream=false", "--filter", "event=commit", "--format", "{{.Status}} {{.Name}}").out
    assert "commit cm" in events, events
    assert len(r2.out.strip()) == 64 and r2.out.count("\n") == 1, r2.describe()
    # the container keeps its command in the committed image
    assert p.ok("run", "--rm", "committed2", "cat", "/kept.txt").out == "committed\n"
    _one_line_error(p("commit", "nosuchctr", "x"))


def test_cp_both_directions(busybox_pypod: Pypod, tmp_path) -> None:
    p = busybox_pypod
    p.ok("create", "--name", "cp", "localhost/busybox", "true")
    host_file = tmp_path / "f.txt"
    host_file.write_text("from host\n")
    src_dir = tmp_path / "d"
    (src_dir / "sub").mkdir(parents=True)
    (src_dir / "sub" / "one").write_text("1\n")
    # host -> container: file into existing dir, file to new name, dir, dir contents
    p.ok("cp", str(host_file), "cp:/tmp")
    p.ok("cp", str(host_file), "cp:/renamed.txt")
    p.ok("cp", str(src_dir), "cp:/tmp/")
    p.ok("cp", f"{src_dir}/.", "cp:/newdir")
    p.ok("start", "-a", "cp")  # copying works on a stopped container too
    out = tmp_path / "out"
    out.mkdir()
    p.ok("cp", "cp:/tmp/f.txt", str(out / "a"))
    assert (out / "a").read_text() == "from host\n"
    p.ok("cp", "cp:/renamed.txt", str(out))
    assert (out / "renamed.txt").read_text() == "from host\n"
    p.ok("cp", "cp:/tmp/d", str(out / "dcopy"))
    assert (out / "dcopy" / "sub" / "one").read_text() == "1\n"
    p.ok("cp", "cp:/newdir/sub/one", str(out / "one"))
    assert (out / "one").read_text() == "1\n"
    # tar streams both ways
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"streamed\n"
        info = tarfile.TarInfo("streamed.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    p.ok("cp", "-", "cp:/tmp", input=buf.getvalue())
    import subprocess

    proc = subprocess.run(p.argv("cp", "cp:/tmp/streamed.txt", "-"), capture_output=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tf:
        assert tf.extractfile("streamed.txt").read() == b"streamed\n"  # type: ignore[union-attr]
    # errors: one line, exit 125
    _one_line_error(p("cp", "cp:/does/not/exist", str(out)))
    _one_line_error(p("cp", str(tmp_path / "missing"), "cp:/tmp"))
    _one_line_error(p("cp", str(src_dir), "cp:/renamed.txt"))
    _one_line_error(p("cp", str(host_file), "nosuchctr:/tmp"))


def test_cp_symlinks_stay_inside_container(busybox_pypod: Pypod, tmp_path) -> None:
    p = busybox_pypod
    sentinel_dir = tempfile.mkdtemp(prefix="pp-sentinel-", dir="/tmp")
    try:
        script = (
            "ln -s /etc /link; ln -s ../../../../../../etc/passwd /rel; ln -s /etc/passwd /plink;"
            f" ln -s {sentinel_dir} /esc; ln -s {sentinel_dir}/planted /escfile"
        )
        _run_in(p, "sl", script)
        marker = tmp_path / "hostname"
        marker.write_text("container-hostname\n")
        p.ok("cp", str(marker), "sl:/etc/hostname")
        out = tmp_path / "x"
        p.ok("cp", "sl:/link/hostname", str(out))
        assert out.read_text() == "container-hostname\n"
        for link in ("plink", "rel"):
            p.ok("cp", f"sl:/{link}", str(tmp_path / link))
            text = (tmp_path / link).read_text()
            assert text.startswith("root:x:0:0:") and "nobody:x:65534" in text, text
            with open("/etc/passwd") as f:
                host = f.read()
            assert text != host or host.count("\n") == 2
        # writing through a symlink that points at a host path must not touch the host
        payload = tmp_path / "planted"
        payload.write_text("evil\n")
        r = p("cp", str(payload), "sl:/esc/")
        assert r.rc != 0
        p("cp", str(payload), "sl:/esc/planted")
        p("cp", str(payload), "sl:/escfile")
        assert os.listdir(sentinel_dir) == [], "cp wrote outside the container root"
        # once the path exists in the container, it lands there (still not on the host)
        p.ok("create", "--name", "sl2", "localhost/busybox", "true")
        p.ok("cp", str(tmp_path), f"sl:{sentinel_dir}")
        p.ok("cp", str(payload), "sl:/esc/")
        assert os.listdir(sentinel_dir) == []
        p.ok("cp", f"sl:{sentinel_dir}/planted", str(tmp_path / "back"))
        assert (tmp_path / "back").read_text() == "evil\n"
    finally:
        leftovers = os.listdir(sentinel_dir)
        import shutil

        shutil.rmtree(sentinel_dir, ignore_errors=True)
        assert leftovers == [], leftovers


def test_mount_umount_keeps_reference(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("create", "--name", "mt", "localhost/busybox", "true")
    path = p.ok("mount", "mt").out.strip()
    assert os.path.ismount(path), path
    assert os.path.exists(os.path.join(path, "bin", "busybox"))
    listing = p.ok("mount").out.splitlines()
    assert len(listing) == 1 and listing[0].endswith("  " + path), listing
    # running the container and letting it exit keeps the user's mount
    p.ok("start", "-a", "mt")
    assert os.path.ismount(path)
    assert p.ok("umount", "mt").out.strip() == "mt"
    assert not os.path.ismount(path)
    assert p.ok("mount").out == ""
    # mount twice, --force drops every reference
    p.ok("mount", "mt")
    p.ok("mount", "mt")
    p.ok("umount", "mt")
    assert os.path.ismount(path)
    p.ok("umount", "-f", "mt")
    assert not os.path.ismount(path)
    p.ok("mount", "mt")
    p.ok("umount", "-a")
    assert not os.path.ismount(path)
    _one_line_error(p("mount", "nosuchctr"))
    _one_line_error(p("umount", "nosuchctr"))


def test_mount_of_running_container_survives_umount(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("run", "-d", "--name", "run1", "localhost/busybox", "sleep", "1000")
    path = p.ok("mount", "run1").out.strip()
    assert os.path.ismount(path)
    p.ok("umount", "run1")
    assert os.path.ismount(path), "umount took the running container's rootfs away"
    r = p("umount", "run1")
    _one_line_error(r)
    # cp into a running container goes through its mounted root
    p.ok("cp", "-", "run1:/tmp", input=_tar_of("live.txt", b"live\n"))
    assert p.ok("exec", "run1", "cat", "/tmp/live.txt").out == "live\n"
    p.ok("rm", "-f", "-t", "0", "run1")


def _tar_of(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("cmd", [["export", "-o", "/dev/null"], ["diff"], ["mount"], ["commit"]])
def test_missing_container_is_one_line_125(busybox_pypod: Pypod, cmd: list[str]) -> None:
    _one_line_error(busybox_pypod(*cmd, "nosuchctr"))
