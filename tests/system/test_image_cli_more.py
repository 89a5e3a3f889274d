"""Issue 2 bullets through the CLI: images flags and templates, import from stdin, rmi/prune,
history, image exists, save to stdout, archives made by podman and umoci, --help everywhere,
global options, containers.conf, container sizes, the database/driver mismatch, renumber."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod


def _ids(p: Pypod, *args: str) -> list[str]:
    return p.ok("images", "--format", "{{.ID}}", *args).out.split()


def _names(p: Pypod, *args: str) -> list[str]:
    return p.ok("images", "--format", "{{.Repository}}:{{.Tag}}", *args).out.split()


@pytest.fixture
def two_images(busybox_pypod: Pypod, busybox_rootfs_tar: str) -> Pypod:
    """busybox (labelled a=b), then localhost/second:1 imported from stdin a moment later."""
    p = busybox_pypod
    p.ok("tag", BUSYBOX_IMAGE, "localhost/alias:2")
    with open(busybox_rootfs_tar, "rb") as f:
        p.ok("import", "-", "localhost/second:1", "-c", "LABEL kind=second", "-c", 'CMD ["sh"]',
             input=f.read())
    return p


def test_images_filters(two_images: Pypod) -> None:
    p = two_images
    second = p.ok("image", "inspect", "--format", "{{.Id}}", "second:1").out.strip()
    busybox = p.ok("image", "inspect", "--format", "{{.Id}}", BUSYBOX_IMAGE).out.strip()
    assert sorted(_names(p)) == ["localhost/alias:2", "localhost/busybox:latest", "localhost/second:1"]
    assert _names(p, "--filter", "reference=second") == ["localhost/second:1"]
    assert _names(p, "--filter", "reference=localhost/alias:*") == ["localhost/alias:2"]
    assert _names(p, "--filter", "label=kind=second") == ["localhost/second:1"]
    assert _names(p, "--filter", "label=kind") == ["localhost/second:1"]
    assert _names(p, "--filter", "label=kind=other") == []
    assert _names(p, "--filter", "dangling=true") == []
    assert sorted(_names(p, "--filter", "dangling=false")) == sorted(_names(p))
    # one image per second in the created order: busybox first, second:1 later or at the same time
    created = {i: p.ok("image", "inspect", "--format", "{{.Created}}", i).out for i in (busybox, second)}
    if created[busybox] != created[second]:
        assert _names(p, "--filter", f"since={busybox[:12]}") == ["localhost/second:1"]
        assert sorted(_names(p, "--filter", "before=second:1")) == ["localhost/alias:2", "localhost/busybox:latest"]
    bad = p("images", "--filter", "colour=red")
    assert bad.rc == 125 and bad.err.count("\n") == 1 and bad.err.startswith("Error: ")


def test_images_formats_digests_no_trunc(two_images: Pypod) -> None:
    p = two_images
    busybox = p.ok("image", "inspect", "--format", "{{.Id}}", BUSYBOX_IMAGE).out.strip()
    digest = p.ok("image", "inspect", "--format", "{{.Digest}}", BUSYBOX_IMAGE).out.strip()
    assert digest.startswith("sha256:") and len(digest) == 71

    table = p.ok("images", "--format", "table {{.Repository}} {{.Tag}} {{.ID}}").out.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID"]
    assert ["localhost/busybox", "latest", busybox[:12]] in [line.split() for line in table[1:]]
    assert p.ok("images", "--noheading", "--format", "table {{.ID}}").out.split()[0] != "IMAGE"
    plain = p.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox").out
    assert plain == "localhost/busybox:latest\n"

    with_digests = p.ok("images", "--digests").out.splitlines()
    assert with_digests[0].split()[:3] == ["REPOSITORY", "TAG", "DIGEST"]
    assert any(digest in line for line in with_digests[1:])
    no_trunc = p.ok("images", "--no-trunc").out
    assert f"sha256:{busybox}" in no_trunc
    short = p.ok("images").out
    assert busybox[:12] in short and busybox not in short

    quiet = p.ok("images", "-q").out.split()
    assert len(quiet) == len(set(quiet)) == 2 and busybox[:12] in quiet
    assert p.ok("images", "-a", "-q", "--no-trunc").out.split().count(f"sha256:{busybox}") == 1
    docs = json.loads(p.ok("images", "--format", "json").out)
    assert {d["Id"] for d in docs} >= {busybox}


def test_import_from_stdin_with_every_change(busybox_pypod: Pypod, busybox_rootfs_tar: str) -> None:
    p = busybox_pypod
    changes = ['ENTRYPOINT ["/bin/sh", "-c"]', "CMD echo hello from $GREETING", "ENV GREETING=imported B=2",
               "WORKDIR /srv", "LABEL k=v", "USER nobody", "EXPOSE 8080", "VOLUME /data"]
    argv = ["import", "-"]
    for change in changes:
        argv += ["--change", change]
    with open(busybox_rootfs_tar, "rb") as f:
        out = p.ok(*argv, "localhost/changed:1", input=f.read()).out.strip()
    assert out.startswith("sha256:") and len(out) == 71
    config = json.loads(p.ok("image", "inspect", "--format", "{{json .Config}}", "changed:1").out)
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["Env"] == ["GREETING=imported", "B=2"] and config["WorkingDir"] == "/srv"
    assert config["Labels"] == {"k": "v"} and config["User"] == "nobody"
    assert config["ExposedPorts"] == {"8080/tcp": {}} and config["Volumes"] == {"/data": {}}
    run = p.ok("run", "--rm", "changed:1", "echo $GREETING; id -u; pwd")
    assert run.out.split() == ["imported", "65534", "/srv"]
    bad = p("import", "-", "localhost/bad:1", "--change", "FROB x", input=b"")
    assert bad.rc == 125 and "Traceback" not in bad.err


def test_rmi_names_all_and_prune(two_images: Pypod, busybox_rootfs_tar: str) -> None:
    p = two_images
    busybox = p.ok("image", "inspect", "--format", "{{.Id}}", BUSYBOX_IMAGE).out.strip()
    # by ID with several names: refused without -f
    refused = p("rmi", busybox[:12])
    assert refused.rc == 125 and "more than one tag" in refused.err and "Traceback" not in refused.err
    # by one of its names: untags only
    assert p.ok("rmi", "alias:2").out.strip() == "Untagged: localhost/alias:2"
    assert p.ok("image", "exists", BUSYBOX_IMAGE).rc == 0 and p("image", "exists", "alias:2").rc == 1

    # re-importing under the same name leaves the old image dangling; prune removes only that one
    with open(busybox_rootfs_tar, "rb") as f:
        p.ok("import", "-", "localhost/second:1", "-c", 'CMD ["other"]', input=f.read())
    dangling = _ids(p, "--filter", "dangling=true")
    assert len(dangling) == 1
    assert p.ok("images", "--format", "{{.Repository}} {{.Tag}}", "--filter", "dangling=true").out.strip() \
        == "<none> <none>"
    pruned = p.ok("image", "prune", "-f").out.split()
    assert len(pruned) == 1 and pruned[0].startswith(dangling[0])
    assert _ids(p, "--filter", "dangling=true") == []
    assert len(_ids(p)) == 2

    # prune -a removes what no container uses, keeps what one does
    p.ok("create", "--name", "user", "second:1")
    p.ok("image", "prune", "-a", "-f")
    assert _names(p) == ["localhost/second:1"]
    in_use = p("rmi", "second:1")
    assert in_use.rc == 2 and "Traceback" not in in_use.err
    assert p.ok("rmi", "-f", "second:1").rc == 0
    assert p("container", "exists", "user").rc == 1
    # rmi -a on an empty store and on several images
    with open(busybox_rootfs_tar, "rb") as f:
        p.ok("import", "-", "localhost/x:1", input=f.read())
    p.ok("tag", "x:1", "localhost/y:1")
    removed = p.ok("rmi", "-a").out.splitlines()
    assert "Untagged: localhost/x:1" in removed and "Untagged: localhost/y:1" in removed
    assert any(line.startswith("Deleted: ") for line in removed)
    assert p.ok("images", "-aq").out == ""
    assert p.ok("rmi", "-a").rc == 0


def test_history_and_exists(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("run", "--name", "h", BUSYBOX_IMAGE, "touch", "/made")
    p.ok("commit", "-q", "h", "localhost/hist:1")
    lines = p.ok("history", "hist:1").out.splitlines()
    assert lines[0].split()[:4] == ["ID", "CREATED", "CREATED", "BY"]
    assert len(lines) == 3
    quiet = p.ok("history", "-q", "--no-trunc", "hist:1").out.split()
    top = p.ok("image", "inspect", "--format", "{{.Id}}", "hist:1").out.strip()
    assert quiet[0] == top
    fmt = p.ok("history", "--format", "{{.CreatedBy}}|{{.Comment}}", BUSYBOX_IMAGE).out.strip()
    assert "|" in fmt
    assert p("image", "exists", "hist:1").rc == 0
    assert p("image", "exists", top[:10]).rc == 0
    missing = p("image", "exists", "nothere:1")
    assert (missing.rc, missing.out, missing.err) == (1, "", "")
    gone = p("history", "nothere:1")
    assert gone.rc == 125 and gone.err.strip() == "Error: nothere:1: image not known"


def test_save_several_to_stdout_and_load_from_stdin(two_images: Pypod, tmp_path: Path) -> None:
    p = two_images
    for fmt in ("docker-archive", "oci-archive"):
        out = tmp_path / f"stdout-{fmt}.tar"
        with open(out, "wb") as f:
            proc = subprocess.run(p.argv("save", "--format", fmt, BUSYBOX_IMAGE, "second:1"), stdout=f,
                                  stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": _src()}, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()
        assert tarfile.is_tarfile(out)
        other = Pypod(tmp_path / f"other-{fmt}")
        try:
            loaded = other.ok("load", input=out.read_bytes()).out.splitlines()
            assert loaded == ["Loaded image: localhost/busybox:latest", "Loaded image: localhost/second:1"]
            for name in (BUSYBOX_IMAGE, "localhost/second:1"):
                ours = p.ok("image", "inspect", "--format", "{{.Id}} {{.Digest}}", name).out
                theirs = other.ok("image", "inspect", "--format", "{{.Id}} {{.Digest}}", name).out
                assert ours.split()[0] == theirs.split()[0]
        finally:
            shutil.rmtree(other.base, ignore_errors=True)


def _src() -> str:
    return str(Path(__file__).resolve().parent.parent.parent / "src")


# --- archives made by other tools -----------------------------------------------
def _podman(base: Path, *args: str) -> subprocess.CompletedProcess:
    argv = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"), "--tmpdir", str(base / "tmp"),
            "--storage-driver", "vfs", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_load_archive_saved_by_podman(busybox_pypod: Pypod, busybox_rootfs_tar: str, tmp_path: Path,
                                      fmt: str) -> None:
    if not shutil.which("podman"):
        pytest.skip("podman (the reference engine) is not installed")
    base = Path(tempfile.mkdtemp(prefix="ppm-", dir="/tmp"))  # podman wants a runroot under 50 chars
    made = _podman(base, "import", "--change", "LABEL by=podman", busybox_rootfs_tar, "localhost/frompodman:1")
    if made.returncode != 0:
        pytest.skip(f"podman cannot import on this host: {made.stderr.strip()[-200:]}")
    try:
        archive = str(tmp_path / "podman.tar")
        saved = _podman(base, "save", "--format", fmt, "-o", archive, "localhost/frompodman:1")
        assert saved.returncode == 0, saved.stderr
        podman_id = _podman(base, "image", "inspect", "--format", "{{.Id}}", "localhost/frompodman:1").stdout.strip()
    finally:
        _podman(base, "rmi", "-af")
        shutil.rmtree(base, ignore_errors=True)
    p = busybox_pypod
    assert p.ok("load", "-i", archive).out.strip() == "Loaded image: localhost/frompodman:1"
    assert p.ok("image", "inspect", "--format", "{{.Id}}", "frompodman:1").out.strip() == podman_id
    assert p.ok("images", "--format", "{{.Repository}}", "--filter", "label=by=podman").out.split() \
        == ["localhost/frompodman"]
    assert p.ok("run", "--rm", "frompodman:1", "cat", "/etc/group").out.startswith("root:x:0:")


def test_load_image_made_by_umoci(busybox_pypod: Pypod, tmp_path: Path) -> None:
    """umoci init/new/unpack/repack/config: its layer has a "./" root entry, the tar is `tar -C layout .`."""
    if not shutil.which("umoci"):
        pytest.skip("umoci is not installed")
    layout, bundle = tmp_path / "layout", tmp_path / "bundle"

    def umoci(*args: str) -> None:
        proc = subprocess.run(["umoci", *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"umoci {' '.join(args)}: {proc.stderr}"

    umoci("init", "--layout", str(layout))
    umoci("new", "--image", f"{layout}:base")
    umoci("unpack", "--image", f"{layout}:base", str(bundle))
    rootfs = bundle / "rootfs"
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "greeting").write_text("made by umoci\n")
    shutil.copy("/bin/busybox", rootfs / "busybox")
    os.symlink("busybox", rootfs / "sh")
    umoci("repack", "--image", f"{layout}:base", str(bundle))
    umoci("config", "--image", f"{layout}:base", "--config.cmd", "/busybox", "--config.label", "made=umoci",
          "--tag", "umoci")
    # keep only the tagged image in the layout's index
    umoci("rm", "--image", f"{layout}:base")
    archive = tmp_path / "umoci.tar"
    subprocess.run(["tar", "-C", str(layout), "-cf", str(archive), "."], check=True, timeout=60)

    p = busybox_pypod
    assert p.ok("load", "-i", str(archive)).out.strip() == "Loaded image: localhost/umoci:latest"
    out = p.ok("run", "--rm", "umoci", "/busybox", "cat", "/etc/greeting").out
    assert out == "made by umoci\n"
    assert p.ok("image", "inspect", "--format", "{{.Labels.made}}", "umoci").out.strip() == "umoci"


# --- command line and configuration ---------------------------------------------
def _command_words() -> list[tuple[str, ...]]:
    from pypod.cli.main import COMMANDS

    return sorted(COMMANDS)


@pytest.mark.parametrize("words", _command_words(), ids=" ".join)
def test_help_on_every_command(words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    from pypod.cli.main import run

    try:
        code = run([*words, "--help"])
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "usage" in out.out.lower() and "Traceback" not in out.err


def test_storage_driver_mismatch_is_one_line(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    for argv in (("images",), ("ps", "-a"), ("run", "--rm", BUSYBOX_IMAGE, "true")):
        result = p("--storage-driver", "vfs", *argv)
        assert result.rc == 125, result.describe()
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and "mismatch" in lines[0], result.err
        assert '"overlay"' in lines[0] and '"vfs"' in lines[0]
    assert p.ok("images", "-q").out.strip() != ""


def test_global_options(busybox_pypod: Pypod, tmp_path: Path) -> None:
    p = busybox_pypod
    assert p.ok("--log-level", "debug", "images", "-q").out.strip()
    bad_level = p("--log-level", "loud", "images")
    assert bad_level.rc == 125 and "Traceback" not in bad_level.err
    runc = shutil.which("runc")
    if runc:  # by name and by path (crun cannot run on this cgroups v1 host)
        assert p.ok("--runtime", "runc", "run", "--rm", BUSYBOX_IMAGE, "echo", "by name").out == "by name\n"
        ran = p.ok("--runtime", runc, "run", "--name", "bypath", BUSYBOX_IMAGE, "echo", "by path")
        assert ran.out == "by path\n"
        assert p.ok("inspect", "--format", "{{.OCIRuntime}}", "bypath").out.strip() in ("runc", runc)
    missing = p("--runtime", "/nonexistent/runtime", "run", "--rm", BUSYBOX_IMAGE, "true")
    assert missing.rc != 0 and "Traceback" not in missing.err
    # a vfs store in other directories works side by side
    vfs = Pypod(tmp_path / "vfs")
    try:
        rootfs = tmp_path / "vfs-rootfs.tar"
        p.ok("save", "-o", str(rootfs), BUSYBOX_IMAGE)
        vfs.ok("--storage-driver", "vfs", "load", "-i", str(rootfs))
        assert vfs.ok("--storage-driver", "vfs", "run", "--rm", BUSYBOX_IMAGE, "echo", "vfs").out == "vfs\n"
        assert os.path.isdir(os.path.join(vfs.root, "storage", "vfs"))
    finally:
        from conftest import cleanup_pypod

        cleanup_pypod(vfs)


def test_containers_conf_ulimits_and_capabilities(busybox_pypod: Pypod, tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=1234:1234"]\n'
                    'default_capabilities = ["CHOWN", "NET_RAW"]\n')
    p = busybox_pypod
    script = "ulimit -n; grep CapBnd /proc/self/status"
    with_conf = p.ok("run", "--rm", BUSYBOX_IMAGE, "sh", "-c", script, env={"CONTAINERS_CONF": str(conf)})
    nofile, caps = with_conf.out.split("\n")[0], with_conf.out.split()[-1]
    assert nofile == "1234"
    assert int(caps, 16) == (1 << 0) | (1 << 13)  # CAP_CHOWN, CAP_NET_RAW
    default = p.ok("run", "--rm", BUSYBOX_IMAGE, "sh", "-c", script, env={"CONTAINERS_CONF": "/nonexistent.conf"})
    assert default.out.split("\n")[0] != "1234" and int(default.out.split()[-1], 16) != int(caps, 16)


def test_container_sizes(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("run", "--name", "writer", BUSYBOX_IMAGE, "dd", "if=/dev/zero", "of=/blob", "bs=1024", "count=1100")
    image_size = int(p.ok("image", "inspect", "--format", "{{.Size}}", BUSYBOX_IMAGE).out)
    sizes = p.ok("inspect", "--size", "--format", "{{.SizeRw}} {{.SizeRootFs}}", "writer").out.split()
    size_rw, size_root = int(sizes[0]), int(sizes[1])
    assert size_rw >= 1024 * 1024
    assert size_root >= size_rw + image_size * 9 // 10
    ps = p.ok("ps", "-a", "--size", "--format", "{{.Names}} {{.Size}}").out.strip()
    assert ps.startswith("writer ") and "virtual" in ps
    table = p.ok("ps", "-a", "--size").out.splitlines()
    assert table[0].split()[-1] == "SIZE" and "MB" in table[1]


def test_system_renumber(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("create", "--name", "one", BUSYBOX_IMAGE, "true")
    p.ok("create", "--name", "two", BUSYBOX_IMAGE, "true")
    assert p.ok("system", "renumber").rc == 0
    p.ok("start", "-a", "one")
    assert p.ok("start", "-a", "two").rc == 0
    assert p.ok("wait", "two").out.strip() == "0"
