"""Container commands pinned to podman 4.3.1's output (side-by-side sweep; see docs/COMPATIBILITY.md).

Only pypod runs here: every expected text and exit code below was taken from podman 4.3.1.
"""

from __future__ import annotations

import pytest

from pypodcli import Pypod

IMAGE = "localhost/busybox:latest"


@pytest.fixture
def ctrs(busybox_pypod: Pypod):
    """top1 (running, label a=b), ex1 (exited 3, printed "hi"), cr1 (created), all --network none."""
    p = busybox_pypod
    try:
        p.ok("run", "-d", "--name", "top1", "--network", "none", "-l", "a=b", IMAGE, "top")
        assert p("run", "--name", "ex1", "--network", "none", IMAGE, "sh", "-c", "echo hi; exit 3").rc == 3
        yield p
    finally:
        p("rm", "-a", "-f", "-t", "0")


def _err(p: Pypod, *args: str) -> tuple[int, str]:
    r = p(*args)
    return r.rc, r.err


def test_ps_sweep(ctrs: Pypod) -> None:
    p = ctrs
    p.ok("create", "--name", "cr1", "--network", "none", IMAGE, "true")
    assert _err(p, "ps", "-a", "-f", "status=bogus") == (125, "Error: unknown container state: bogus: invalid argument\n")
    assert _err(p, "ps", "-a", "-f", "exited=x") == (
        125, "Error: exited code out of range '\\x00': strconv.ParseInt: parsing \"x\": invalid syntax\n")
    assert _err(p, "ps", "--sort", "bogus") == (125, (
        'Error: invalid argument "bogus" for "--sort" flag: "bogus" is not a valid value.  '
        'Choose from: "command, created, id, image, names, runningfor, size, status"\n'
        "See 'pypod ps --help'\n"))
    # ancestor: the full name, or the name without a "latest" tag; never a bare short name
    assert p.ok("ps", "-a", "-f", "ancestor=busybox").out.count("\n") == 1  # header only
    names = p.ok("ps", "-a", "-f", "ancestor=localhost/busybox", "--format", "{{.Names}}").out.split()
    assert sorted(names) == ["cr1", "ex1", "top1"]
    assert p.ok("ps", "-a", "-f", "network=none", "--format", "{{.Names}}").out == ""
    # -q loses to --format
    assert sorted(p.ok("ps", "-a", "-q", "--format", "{{.Names}}").out.split()) == ["cr1", "ex1", "top1"]
    out = p.ok("ps", "-a", "--sort", "names", "--format",
               "{{.Names}}|{{.Labels}}|{{json .Labels}}|{{.Networks}}|{{len .ImageID}}").out  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "cr1|map[]|null||12"
    assert lines[1] == "ex1|map[]|null||12"
    assert lines[2] == 'top1|map[a:b]|{"a":"b"}||12'
    assert p.ok("ps", "-a", "--no-trunc", "-f", "name=cr1", "--format", "{{len .ImageID}}").out == "64\n"
    rc, err = _err(p, "ps", "--format", "{{.Bogus}}")
    assert (rc, err) == (125, 'Error: template: ps:1:13: executing "ps" at <.Bogus>: '
                              "can't evaluate field Bogus in type containers.psReporter\n")  # fmt: skip


def test_inspect_logs_wait_sweep(ctrs: Pypod) -> None:
    p = ctrs
    assert _err(p, "inspect", "--type", "bogus", "ex1") == (
        125, 'Error: invalid type "bogus": must be "image", "container", "pod", "network", "volume", or "all"\n')
    out = p.ok("inspect", "-f", "{{.Config.Labels}} {{json .Config.Labels}}|{{.HostConfig.RestartPolicy}}|"
               "{{.HostConfig.PortBindings}}", "top1", "ex1").out  # fmt: skip
    assert out == 'map[a:b] {"a":"b"}|{ 0}|map[]\nmap[] null|{ 0}|map[]\n'
    assert _err(p, "inspect", "-f", "{{.Bogus}}", "ex1")[1].startswith(
        'Error: inspecting object: printing inspect output: template: inspect:1:13: executing "inspect" at <.Bogus>: ')
    assert _err(p, "logs", "--tail", "x", "ex1") == (125, (
        'Error: invalid argument "x" for "--tail" flag: strconv.ParseInt: parsing "x": invalid syntax\n'
        "See 'pypod logs --help'\n"))
    assert _err(p, "logs", "--since", "bogus", "ex1") == (
        125, 'Error: parsing --since "bogus": unable to interpret time value\n')
    assert _err(p, "logs", "--until", "bogus", "ex1") == (
        125, 'Error: parsing --until "bogus": unable to interpret time value\n')
    ex1_id = p.ok("inspect", "-f", "{{.Id}}", "ex1").out.strip()
    p.ok("run", "--name", "ex2", "--network", "none", IMAGE, "true")
    assert p.ok("logs", "ex1", "ex2").out == f"{ex1_id[:12]} hi\n"
    assert p.ok("logs", "-n", "ex1", "ex2").out == "ex1 hi\n"
    assert _err(p, "wait", "--condition", "bogus", "ex1") == (
        125, "Error: unknown container state: bogus: invalid argument\n")


def test_top_port_kill_stop_sweep(ctrs: Pypod) -> None:
    p = ctrs
    assert _err(p, "top", "nosuch") == (125, 'Error: unable to look up requested container: '
                                             'no container with name or ID "nosuch" found: no such container\n')
    assert _err(p, "port", "top1", "bogus") == (125, 'Error: strconv.ParseUint: parsing "bogus": invalid syntax\n')
    # no published ports at all: nothing printed, exit 0
    r = p("port", "top1", "80")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert _err(p, "kill", "-s", "99", "top1") == (125, "Error: valid signals are 1 through 64\n")
    for value in ("x", "-1"):
        assert _err(p, "stop", "-t", value, "ex1") == (125, (
            f'Error: invalid argument "{value}" for "-t, --time" flag: strconv.ParseUint: parsing "{value}": '
            f"invalid syntax\nSee 'pypod stop --help'\n"))
    assert _err(p, "restart", "-t", "x", "ex1")[1].startswith('Error: invalid argument "x" for "-t, --time" flag')


def test_ports_without_a_bridge(busybox_pypod: Pypod) -> None:
    """podman 4.3.1: a container drops -p with a warning under --network none/host; a pod refuses."""
    p = busybox_pypod
    res = p("run", "--rm", "--network", "none", "-p", "8080:80", "localhost/busybox:latest", "echo", "hi")
    assert res.rc == 0 and res.out == "hi\n", res.describe()
    assert res.err == ("Port mappings have been discarded as one of the Host, Container, Pod, and None network "
                       "modes are in use\n"), res.err
    pod = p("pod", "create", "--network", "none", "-p", "8080:80", "--name", "noports")
    assert pod.rc == 125 and pod.err == "Error: PortMappings can only be used with Bridge or slirp4netns networking\n"
    assert p("pod", "exists", "noports").rc == 1


def test_ps_pod_columns(busybox_pypod: Pypod) -> None:
    """`ps --pod` adds podman's POD ID and PODNAME columns (empty for a container in no pod)."""
    p = busybox_pypod
    pod_id = p.ok("pod", "create", "--name", "psp").out.strip()
    try:
        p.ok("create", "--pod", "psp", "--name", "member", IMAGE, "true")
        p.ok("create", "--network", "none", "--name", "loner", IMAGE, "true")
        lines = p.ok("ps", "-a", "--pod").out.splitlines()
        assert lines[0].rstrip().endswith("NAMES               POD ID        PODNAME"), lines[0]
        member = next(line for line in lines if " member " in line)
        assert member.split()[-2:] == [pod_id[:12], "psp"]
        loner = next(line for line in lines if " loner" in line)
        assert loner.rstrip().endswith("loner")
        names = p.ok("ps", "-a", "--format", "{{.Names}} {{.PodName}}").out.splitlines()
        assert "member psp" in names and "loner " in names
    finally:
        p("pod", "rm", "-f", "psp")
        p("rm", "-f", "loner")
