"""`pypod pod ...` through the CLI: create/ps/inspect, shared namespaces, stop/start, rm, statuses, errors.

Pods use ``--network none``: the infra container then holds a private network namespace with
only loopback, which is all two members need to talk over 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Iterator

import pytest

from pypodcli import Pypod, mounts_under, processes_mentioning, wait_for

BUSYBOX = "localhost/busybox:latest"
DEADLINE = 30


def _catatonit() -> str | None:
    for path in ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/libexec/catatonit/catatonit"):
        if os.access(path, os.X_OK):
            return path
    return shutil.which("catatonit")


@pytest.fixture
def pp(busybox_pypod: Pypod) -> Iterator[Pypod]:
    """busybox_pypod, with every pod force-removed first at teardown (so pod cgroups go too)."""
    if _catatonit() is None:
        pytest.skip("catatonit (the pod infra process) is not installed")
    try:
        yield busybox_pypod
    finally:
        busybox_pypod("pod", "rm", "-a", "-f", "-t", "0", timeout=120)


def _status(pp: Pypod, pod: str) -> str:
    return pp.ok("pod", "inspect", "--format", "{{.State}}", pod).out.strip()


def _ctr_state(pp: Pypod, ctr: str) -> str:
    return pp.ok("inspect", "--format", "{{.State.Status}}", ctr).out.strip()


def _infra_id(pp: Pypod, pod: str) -> str:
    return pp.ok("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).out.strip()


def test_create_ps_inspect_exists(pp: Pypod) -> None:
    pod_id = pp.ok("pod", "create", "--name", "p1", "--network", "none", "--label", "team=x").out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", pod_id)
    lines = pp.ok("pod", "ps").out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "# OF CONTAINERS"]
    assert lines[1].startswith(pod_id[:12]) and " p1 " in lines[1] and " Created " in lines[1]
    assert lines[1].rstrip().endswith("1")
    assert pp.ok("pod", "inspect", "--format", "{{.NumContainers}}", "p1").out.strip() == "1"
    data = json.loads(pp.ok("pod", "inspect", "p1").out)
    assert data["Id"] == pod_id and data["Name"] == "p1" and data["State"] == "Created"
    assert data["SharedNamespaces"] == ["ipc", "net", "uts"]
    assert data["Labels"] == {"team": "x"}
    assert data["Containers"][0]["Id"] == data["InfraContainerID"]
    assert data["Containers"][0]["Name"] == f"{pod_id[:12]}-infra"
    assert pp("pod", "exists", "p1").rc == 0
    assert pp("pod", "exists", "nope").rc == 1
    assert pp.ok("pod", "ps", "-q", "--no-trunc").out.split() == [pod_id]
    assert pp.ok("pod", "ps", "--filter", "name=p1", "--format", "{{.Name}}").out.split() == ["p1"]
    assert pp.ok("pod", "ps", "--filter", "label=team=y", "-q").out.strip() == ""
    # a pod without infra holds no container
    pp.ok("pod", "create", "--name", "bare", "--infra=false")
    assert pp.ok("pod", "inspect", "--format", "{{.NumContainers}}", "bare").out.strip() == "0"


def test_members_share_network_and_hostname(pp: Pypod) -> None:
    pp.ok("pod", "create", "--name", "web", "--network", "none")
    pp.ok(
        "run", "-d", "--name", "server", "--pod", "web", BUSYBOX,
        "sh", "-c", "mkdir -p /tmp/www && echo pod-ok > /tmp/www/x && exec httpd -f -p 8080 -h /tmp/www",
    )  # fmt: skip
    assert _status(pp, "web") == "Running"

    def fetched() -> str:
        res = pp("run", "--rm", "--pod", "web", BUSYBOX, "wget", "-qO-", "http://127.0.0.1:8080/x")
        return res.out if res.rc == 0 and "pod-ok" in res.out else ""

    assert "pod-ok" in wait_for(fetched, DEADLINE, 0.1, "the pod member's httpd on 127.0.0.1:8080")  # type: ignore[operator]
    # uts: both members see the pod's hostname (the pod name by default)
    assert pp.ok("run", "--rm", "--pod", "web", BUSYBOX, "hostname").out.strip() == "web"
    # the server's network namespace is the infra's
    infra = _infra_id(pp, "web")
    pid_infra = pp.ok("inspect", "--format", "{{.State.Pid}}", infra).out.strip()
    pid_server = pp.ok("inspect", "--format", "{{.State.Pid}}", "server").out.strip()
    for ns in ("net", "uts", "ipc"):
        assert os.readlink(f"/proc/{pid_infra}/ns/{ns}") == os.readlink(f"/proc/{pid_server}/ns/{ns}")
    ps = pp.ok("pod", "ps", "--ctr-names", "--ctr-status").out
    assert "server" in ps and "running,running" in ps


def test_stop_then_start_starts_infra_first(pp: Pypod) -> None:
    pp.ok("pod", "create", "--name", "p2", "--network", "none")
    pp.ok("run", "-d", "--name", "m1", "--pod", "p2", BUSYBOX, "sleep", "1000")
    pp.ok("run", "-d", "--name", "m2", "--pod", "p2", BUSYBOX, "sleep", "1000")
    infra = _infra_id(pp, "p2")
    out = pp.ok("pod", "stop", "-t", "0", "p2").out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", out)
    assert [_ctr_state(pp, c) for c in (infra, "m1", "m2")] == ["exited"] * 3
    assert _status(pp, "p2") == "Exited"
    # conmon exits just after it writes the exit file (which the command waited for)
    wait_for(lambda: processes_mentioning(pp.runroot) == [], timeout=30, message="conmon to exit")
    pp.ok("pod", "start", "p2")
    assert [_ctr_state(pp, c) for c in (infra, "m1", "m2")] == ["running"] * 3
    started = {
        c: pp.ok("inspect", "--format", "{{.State.StartedAt}}", c).out.strip() for c in (infra, "m1", "m2")
    }
    assert started[infra] <= started["m1"] and started[infra] <= started["m2"]
    # starting one member of a stopped pod starts the infra first
    pp.ok("pod", "stop", "-t", "0", "p2")
    pp.ok("start", "m1")
    assert _ctr_state(pp, infra) == "running" and _ctr_state(pp, "m1") == "running"
    assert _status(pp, "p2") == "Degraded"


def test_statuses_pause_kill_restart(pp: Pypod) -> None:
    pp.ok("pod", "create", "--name", "p3", "--network", "none")
    assert _status(pp, "p3") == "Created"
    pp.ok("run", "-d", "--name", "s3", "--pod", "p3", BUSYBOX, "sleep", "1000")
    assert _status(pp, "p3") == "Running"
    pp.ok("pod", "pause", "p3")
    assert _status(pp, "p3") == "Paused"
    pp.ok("pod", "unpause", "p3")
    assert _status(pp, "p3") == "Running"
    pp.ok("run", "--name", "done", "--pod", "p3", BUSYBOX, "true")
    assert _status(pp, "p3") == "Degraded"
    pp.ok("pod", "kill", "p3")
    wait_for(lambda: _status(pp, "p3") == "Exited", DEADLINE, message="pod p3 to be Exited after kill")
    pp.ok("pod", "restart", "-t", "0", "p3")
    assert _status(pp, "p3") == "Degraded"  # "true" exits again at once
    pp.ok("rm", "done")
    assert _status(pp, "p3") == "Running"
    pp.ok("pod", "stop", "-t", "0", "p3")
    pod_id = pp.ok("pod", "ps", "-q", "--no-trunc").out.strip()
    assert pp.ok("pod", "prune", "-f").out.split() == [pod_id]
    assert pp.ok("pod", "ps", "-q").out.strip() == ""
    assert pp.ok("ps", "-aq").out.strip() == ""


def test_rm_refuses_running_then_force_removes_everything(pp: Pypod) -> None:
    pod_id = pp.ok("pod", "create", "--name", "p4", "--network", "none").out.strip()
    pp.ok("run", "-d", "--name", "r4", "--pod", "p4", BUSYBOX, "sleep", "1000")
    res = pp("pod", "rm", "p4")
    assert res.rc == 125
    assert "running or paused containers cannot be removed without force" in res.err
    assert _ctr_state(pp, "r4") == "running"
    assert pp.ok("pod", "rm", "-f", "-t", "0", "p4").out.strip() == pod_id
    assert pp.ok("ps", "-aq").out.strip() == ""
    assert pp.ok("pod", "ps", "-q").out.strip() == ""
    # conmon exits just after it writes the exit file (which the command waited for)
    wait_for(lambda: processes_mentioning(pp.runroot) == [], timeout=30, message="conmon to exit")
    assert mounts_under(pp.root, pp.runroot) == []
    assert not os.path.exists(f"/sys/fs/cgroup/pids/libpod_parent/{pod_id}")
    # a pod whose only running container is the infra is removed without -f
    pp.ok("pod", "create", "--name", "p5", "--network", "none")
    pp.ok("pod", "start", "p5")
    pp.ok("pod", "rm", "p5")
    assert pp.ok("ps", "-aq").out.strip() == ""


def test_errors_and_new_pod_flag(pp: Pypod) -> None:
    for args in (("pod", "inspect", "nope"), ("pod", "start", "nope"), ("pod", "stop", "nope")):
        res = pp(*args)
        assert res.rc == 125, res
        assert "no such pod" in res.err
    assert pp("pod", "rm", "nope").rc == 1
    pp.ok("pod", "create", "--name", "dup", "--network", "none")
    res = pp("pod", "create", "--name", "dup")
    assert res.rc == 125 and 'name "dup" is in use' in res.err
    res = pp("pod", "create", "--share", "foo")
    assert res.rc == 125 and "invalid kernel namespace to share: foo" in res.err
    res = pp("pod", "create", "--infra=false", "--share", "ipc")
    assert res.rc == 125 and "without an infra container" in res.err
    res = pp("run", "--rm", "--pod", "nope", BUSYBOX, "true")
    assert res.rc == 125 and "no such pod" in res.err
    # --pod new:NAME creates the pod
    out = pp.ok("run", "--rm", "--pod", "new:fresh", "--network", "none", BUSYBOX, "hostname").out.strip()
    assert out == "fresh"
    assert pp("pod", "exists", "fresh").rc == 0
    # the pod's name is taken for containers too
    res = pp("create", "--name", "dup", BUSYBOX, "true")
    assert res.rc == 125
