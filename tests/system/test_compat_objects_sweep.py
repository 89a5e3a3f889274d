"""Image, volume, network and pod commands: outputs pinned to podman 4.3.1's (compatibility sweep).

Every expected string below was taken from podman 4.3.1 run side by side on the same image.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nethelpers import free_subnet  # noqa: E402

IMAGE = "localhost/busybox:latest"


def _err(result) -> str:  # type: ignore[no-untyped-def]
    return result.err.strip()


# --- images ----------------------------------------------------------------------------------
def test_images_flag_value_errors(busybox_pypod) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    cases = {
        ("images", "--sort", "bogus"):
            'Error: "bogus" is not a valid field for sorting. Choose from: created, id, repository, size, tag',
        ("images", "-f", "bogus=1"): 'Error: unsupported image filter "bogus"',
        ("images", "-f", "foo"):
            'Error: invalid image filter "foo": must be in the format "filter=value or filter!=value"',
        ("images", "-f", "dangling=maybe"):
            'Error: non-boolean value "dangling" for maybe filter: strconv.ParseBool: parsing "maybe": '
            "invalid syntax",
        ("images", "-f", "before=nosuch"):
            'Error: could not find local image for filter filter "before"="nosuch": nosuch: image not known',
        ("images", "-f", "since=nosuch"):
            'Error: could not find local image for filter filter "since"="nosuch": nosuch: image not known',
        ("image", "prune", "-f", "--filter", "bogus=1"): 'Error: unsupported image filter "bogus"',
        ("image", "prune", "-f", "--filter", "foo"):
            "Error: filter input must be in the form of filter=value: foo is invalid",
    }
    for args, message in cases.items():
        res = p(*args)
        assert (res.rc, res.out, _err(res)) == (125, "", message), res.describe()
    dangling = p("images", "-f", "dangling=F", "--format", "{{.Repository}}")
    assert dangling.rc == 0 and dangling.out == "localhost/busybox\n", dangling.describe()


def test_rmi_several_errors(busybox_pypod) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    res = p("rmi", "nosuch", "nosuch2")
    assert res.rc == 1, res.describe()
    assert res.err == "Error: 2 errors occurred:\n\t* nosuch: image not known\n\t* nosuch2: image not known\n"
    p.ok("create", "--network", "none", "--name", "user", IMAGE, "true")
    res = p("rmi", "nosuch", IMAGE)
    assert res.rc == 2, res.describe()
    lines = res.err.splitlines()
    assert lines[:2] == ["Error: 2 errors occurred:", "\t* nosuch: image not known"], res.describe()
    assert lines[2].startswith("\t* image used by ") and lines[2].endswith(
        ": image is in use by a container: consider listing external containers and force-removing image"
    ), res.describe()
    assert p("image", "exists", IMAGE).rc == 0
    assert p("rmi", "--ignore", "nosuch", "nosuch2").rc == 0


def test_image_prune_filters_are_applied(busybox_pypod, busybox_rootfs_tar, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    other = tmp_path / "other.tar"
    other.write_bytes(Path(busybox_rootfs_tar).read_bytes())
    os.utime(other, (1_600_000_000, 1_600_000_000))
    dangling = p.ok("import", "-q", str(other)).out.strip().removeprefix("sha256:")
    assert p.ok("image", "prune", "-f", "--filter", "label=x").out == ""
    assert p.ok("image", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z").out == ""
    assert p("image", "exists", dangling).rc == 0
    assert p.ok("image", "prune", "-f", "--filter", "label!=x").out == dangling + "\n"


def test_import_uses_file_time_and_podman_messages(busybox_pypod, busybox_rootfs_tar, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    tar = tmp_path / "root.tar"
    tar.write_bytes(Path(busybox_rootfs_tar).read_bytes())
    os.utime(tar, (1_577_934_245, 1_577_934_245))  # 2020-01-02 03:04:05 UTC
    first = p.ok("import", "-q", str(tar), "t2:x").out
    again = p.ok("import", "-q", str(tar)).out
    assert first == again  # same file, same time: the same image, as in podman
    assert p.ok("images", "--format", "{{.CreatedAt}}", "t2").out == "2020-01-02 03:04:05 +0000 UTC\n"
    hist = json.loads(p.ok("image", "inspect", "t2:x", "--format", "{{json .History}}").out)
    assert hist[0]["created"] == "2020-01-02T03:04:05Z"
    cases = {
        ("import", "/nonexist.tar"): 'Error: error opening "/nonexist.tar": open /nonexist.tar: no such file or directory',
        ("import", str(tmp_path)): f'Error: error reading "{tmp_path}": read {tmp_path}: is a directory',
        ("import", str(tar), "BAD:x"):
            'Error: normalizing name "BAD:x": normalizing name "BAD:x": repository name must be lowercase',
        ("import", str(tar), "--change", "BOGUS x"): 'Error: invalid change "BOGUS x" - invalid instruction BOGUS',
    }
    for args, message in cases.items():
        res = p(*args)
        assert (res.rc, _err(res)) == (125, message), res.describe()


def test_save_errors(busybox_pypod, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    res = p("save", "--format", "bogus", "-o", str(tmp_path / "x.tar"), IMAGE)
    assert (res.rc, _err(res)) == (125, "Error: format value must be one of oci-dir oci-archive docker-dir docker-archive")
    missing = tmp_path / "nodir" / "x.tar"
    res = p("save", "-o", str(missing), IMAGE)
    assert (res.rc, _err(res)) == (125, f'Error: opening file "{missing}": open {missing}: no such file or directory')
    out = tmp_path / "img.tar"
    p.ok("save", "-o", str(out), IMAGE)
    res = p("save", "-o", str(out), IMAGE)
    assert (res.rc, _err(res)) == (125, "Error: docker-archive doesn't support modifying existing images")
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    p.ok("save", "-o", str(empty), IMAGE)
    p.ok("save", "--format", "oci-archive", "-o", str(out), IMAGE)  # oci-archive overwrites


# --- volumes ---------------------------------------------------------------------------------
def test_volume_messages_and_exit_codes(busybox_pypod) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    assert p.ok("volume", "ls").out == ""  # no heading when there are no volumes
    assert p.ok("volume", "ls", "--format", "json").out == "[]\n"
    res = p("volume", "create", "bad/name")
    assert (res.rc, _err(res)) == (
        125, "Error: running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
    )
    res = p("volume", "create", "--driver", "bogus", "v2")
    assert (res.rc, _err(res)) == (
        125,
        "Error: volume v2 uses volume plugin bogus but it could not be retrieved: "
        "no volume plugin with name bogus available: required plugin missing",
    )
    res = p("volume", "ls", "-f", "dangling=maybe")
    assert (res.rc, _err(res)) == (
        125, 'Error: "maybe" is not a valid value for the "dangling" filter - must be true or false'
    )
    p.ok("volume", "create", "v1")
    cid = p.ok("create", "--network", "none", "-v", "v1:/data", IMAGE, "true").out.strip()
    in_use = f"Error: volume v1 is being used by the following container(s): {cid}: volume is being used"
    missing = 'Error: no volume with name "nosuch" found: no such volume'
    res = p("volume", "rm", "nosuch")
    assert (res.rc, _err(res)) == (1, missing)
    res = p("volume", "rm", "v1")
    assert (res.rc, _err(res)) == (2, in_use)
    res = p("volume", "rm", "v1", "nosuch")  # names are looked up before anything is removed
    assert (res.rc, res.err.splitlines()) == (2, [missing, in_use]), res.describe()
    assert p.ok("volume", "rm", "-f", "nosuch").out == ""
    res = p("volume", "inspect", "nosuch", "nosuch2")
    assert (res.rc, res.out) == (125, "[]\n")
    assert res.err.splitlines() == [
        "error inspecting object: no such volume nosuch2",
        "Error: inspecting object: no such volume nosuch",
    ]


def test_volume_ls_json_empty_maps(busybox_pypod) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    p.ok("volume", "create", "--label", "a=b", "v5")
    out = p.ok("volume", "ls", "--format", "json").out
    assert '    "Labels": {\n      "a": "b"\n    },\n' in out
    assert '    "Options": {\n      \n    },\n' in out
    assert json.loads(out)[0]["Options"] == {}


# --- networks --------------------------------------------------------------------------------
def test_network_messages(busybox_pypod) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    res = p("network", "inspect", "nosuch", "nosuch2")
    assert (res.rc, res.out) == (125, "[]\n"), res.describe()
    assert res.err.splitlines() == [
        "error inspecting object: network nosuch2: unable to find network with name or ID nosuch2: network not found",
        "Error: inspecting object: network nosuch: unable to find network with name or ID nosuch: network not found",
    ]
    subnet = ipaddress.ip_network(free_subnet(100, 119))
    outside = ipaddress.ip_network(f"{subnet.network_address + 256}/28")
    res = p("network", "create", "--subnet", str(subnet), "--ip-range", str(outside), "cmpnet0")
    assert (res.rc, _err(res)) == (
        125, f"Error: lease range start ip {outside.network_address + 1} not in subnet {subnet}"
    )
    p.ok("network", "create", "--subnet", str(subnet), "cmpnet1")
    p.ok("create", "--name", "c1", IMAGE, "true")
    assert p("network", "connect", "cmpnet1", "c1").rc == 0
    again = p("network", "connect", "cmpnet1", "c1")  # a no-op for a container that never ran
    assert (again.rc, again.out, again.err) == (0, "", ""), again.describe()
    p.ok("network", "disconnect", "cmpnet1", "c1")
    res = p("network", "disconnect", "cmpnet1", "c1")
    assert (res.rc, _err(res)) == (125, "Error: container c1 is not connected to network cmpnet1")
    res = p("network", "rm", "podman")  # users are named before the default-network refusal
    assert res.rc == 2, res.describe()
    assert _err(res) == (
        'Error: "podman" has associated containers with it. Use -f to forcibly delete containers and pods: '
        "network is being used"
    )
    p.ok("rm", "c1")
    res = p("network", "rm", "podman")
    assert (res.rc, _err(res)) == (125, "Error: default network podman cannot be removed")
    p.ok("network", "rm", "cmpnet1")


# --- pods ------------------------------------------------------------------------------------
def test_pod_messages(busybox_pypod) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    missing = "Error: no pod with name or ID nosuch found: no such pod"
    for args, code in ((("pod", "start", "nosuch"), 125), (("pod", "stop", "nosuch"), 125),
                       (("pod", "rm", "nosuch"), 1)):
        res = p(*args)
        assert (res.rc, _err(res)) == (code, missing), res.describe()
    res = p("pod", "top", "nosuch")
    assert (res.rc, _err(res)) == (125, "Error: unable to look up requested container: " + missing[7:])
    res = p("pod", "rm", "-f", "nosuch")
    assert (res.rc, res.out, res.err) == (0, "", ""), res.describe()
    res = p("pod", "inspect", "nosuch")
    assert (res.rc, res.out, _err(res)) == (125, "[]\n", "Error: inspecting object: no such pod nosuch")
    res = p("pod", "ps", "--sort", "bogus")
    assert (res.rc, _err(res)) == (125, "Error: invalid option for --sort, options are: id, names, or number")
    res = p("create", "--pod", "nosuch", IMAGE, "true")
    assert (res.rc, _err(res)) == (125, missing)


def test_pod_kill_and_top_with_nothing_running(busybox_pypod: Pypod) -> None:
    """podman 4.3.1: both exit 0; kill prints the pod's ID, top prints nothing."""
    p = busybox_pypod
    pod_id = p.ok("pod", "create", "--name", "idle").out.strip()
    try:
        assert p.ok("pod", "kill", "idle").out == f"{pod_id}\n"
        assert p.ok("pod", "top", "idle").out == ""
    finally:
        p("pod", "rm", "-f", "idle")
