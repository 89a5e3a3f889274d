"""Each flag of the OCI spec takes effect inside a real container (runc, conmon, overlayfs), via the CLI.

One pypod store per module: busybox plus ``localhost/custom`` (a user and groups in /etc/passwd and
/etc/group, a file at the image's ``VOLUME /data``, image ENV). Several values are printed by one
container where possible, to keep the file fast.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path
from typing import Iterator

import pytest
from conftest import BUSYBOX_IMAGE, cleanup_pypod, new_pypod
from pypodcli import Pypod, missing_engine_parts, wait_for

CUSTOM = "localhost/custom:latest"
NONE = ("--network", "none")
DEADLINE = 30.0
DEFAULT_CAPS = "00000000800405fb"


@pytest.fixture(scope="module")
def pp(busybox_rootfs_tar: str) -> Iterator[Pypod]:
    reason = missing_engine_parts()
    if reason:
        pytest.skip(reason)
    p = new_pypod()
    try:
        p.ok("import", busybox_rootfs_tar, BUSYBOX_IMAGE, "--change", 'CMD ["sh"]')
        setup = (
            'echo "alice:x:1001:1002:alice:/home/alice:/bin/sh" >> /etc/passwd; '
            'echo "staff:x:1002:" >> /etc/group; echo "audio:x:63:alice" >> /etc/group; '
            "mkdir -p /data /home/alice; echo seeded > /data/seed; chown 1001:1002 /data/seed"
        )
        p.ok("run", *NONE, "--name", "mk", BUSYBOX_IMAGE, "sh", "-c", setup)
        p.ok("commit", "-q", "--change", "VOLUME /data", "--change", "ENV FOO=img BAR=imgbar", "mk", CUSTOM)
        p.ok("rm", "mk")
        yield p
    finally:
        cleanup_pypod(p)


def run(p: Pypod, *args: str) -> str:
    """``run --rm --network none ARGS``; its output (must exit 0)."""
    return p.ok("run", "--rm", *NONE, *args).out


def status_fields(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


STATUS = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"


def own_cap_bounding() -> str:
    with open("/proc/self/status", encoding="ascii") as fh:
        return status_fields(fh.read())["CapBnd"].strip()


# --- process: environment, workdir, hostname, users ----------------------------------------------
def test_environment_workdir_hostname(pp: Pypod, tmp_path: Path) -> None:
    env_file = tmp_path / "envfile"
    env_file.write_text("EF1=fromfile\n# a comment\nEF2=two words\n")
    out = pp.ok(
        "run", "--rm", *NONE, "--hostname", "myhost", "-e", "A=1", "-e", "FOO=override", "-e", "HOSTVAR",
        "--env-file", str(env_file), "-w", "/tmp", CUSTOM,
        "sh", "-c", "env; echo PWD_IS=$(pwd); echo HN=$(hostname) $(cat /etc/hostname); "
        "for f in /etc/hosts /etc/resolv.conf /etc/hostname /run/.containerenv; do test -f $f && echo has $f; done",
        env={"HOSTVAR": "from-host"},
    ).out  # fmt: skip
    lines = out.splitlines()
    for expected in ("A=1", "FOO=override", "BAR=imgbar", "HOSTVAR=from-host", "EF1=fromfile", "EF2=two words",
                     "HOSTNAME=myhost", "container=pypod", "PWD_IS=/tmp", "HN=myhost myhost",
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"):  # fmt: skip
        assert expected in lines, (expected, out)
    assert not any(line.startswith("TERM=") for line in lines), out
    for path in ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/.containerenv"):
        assert f"has {path}" in lines, out
    assert "myhost" in pp.ok("run", "--rm", *NONE, "--hostname", "myhost", BUSYBOX_IMAGE, "cat", "/etc/hosts").out

    tty = run(pp, "-t", BUSYBOX_IMAGE, "sh", "-c", "echo TERM=$TERM")
    assert "TERM=xterm" in tty.replace("\r", "").splitlines()
    # as podman 4.3.1: a -w that does not exist is refused (126), a file too; below a volume it is
    # the volume's business; the image's own WorkingDir is created
    missing = pp("run", "--rm", *NONE, "-w", "/new/dir", BUSYBOX_IMAGE, "pwd")
    assert missing.rc == 126 and missing.err.startswith('Error: workdir "/new/dir" does not exist on container'), missing
    not_dir = pp("run", "--rm", *NONE, "-w", "/etc/passwd", BUSYBOX_IMAGE, "pwd")
    assert not_dir.rc == 126 and "exists on container" in not_dir.err and "but is not a directory" in not_dir.err
    assert run(pp, "-v", "/tmp:/hostdata", "-w", "/hostdata", BUSYBOX_IMAGE, "pwd").strip() == "/hostdata"
    pp.ok("create", "--name", "wd", *NONE, BUSYBOX_IMAGE, "true")
    pp.ok("commit", "-q", "--change", "WORKDIR /app/work", "wd", "localhost/workdir:latest")
    assert run(pp, "localhost/workdir:latest", "pwd").strip() == "/app/work"
    created = pp.ok("create", *NONE, "-w", "/nowhere", BUSYBOX_IMAGE, "pwd").out.strip()
    start = pp("start", created)  # podman's start names the container, exit code 125
    assert start.rc == 125 and start.err.startswith(f'Error: unable to start container "{created}": workdir'), start


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("alice", "uid=1001(alice) gid=1002(staff) groups=63(audio),1002(staff) HOME=/home/alice"),
        ("1001", "uid=1001(alice) gid=1002(staff) groups=63(audio),1002(staff) HOME=/home/alice"),
        ("alice:staff", "uid=1001(alice) gid=1002(staff) groups=1002(staff) HOME=/home/alice"),
        ("1001:63", "uid=1001(alice) gid=63(audio) groups=63(audio) HOME=/home/alice"),
        ("nobody", "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody) HOME=/nonexistent"),
    ],
)
def test_user_from_image_passwd_and_group(pp: Pypod, user: str, expected: str) -> None:
    out = run(pp, "--user", user, CUSTOM, "sh", "-c", "echo $(id) HOME=$HOME")
    assert out.strip() == expected


def test_numeric_user_missing_from_image_gets_entries(pp: Pypod) -> None:
    out = run(pp, "--user", "2000", CUSTOM, "sh", "-c", "tail -1 /etc/passwd; tail -1 /etc/group; id; echo $HOME")
    assert out.splitlines() == ["2000:*:2000:0:container user:/:/bin/sh", "2000:x:2000:2000",
                                "uid=2000(2000) gid=0(root) groups=0(root)", "/"]  # fmt: skip
    out = run(pp, "--user", "2000:3000", CUSTOM, "sh", "-c", "tail -1 /etc/group; id")
    assert out.splitlines() == ["3000:x:3000:2000", "uid=2000(2000) gid=3000(3000) groups=3000(3000)"]
    # a known user is left alone in /etc/passwd
    assert run(pp, "--user", "1001", CUSTOM, "tail", "-1", "/etc/passwd").strip() == "alice:x:1001:1002:alice:/home/alice:/bin/sh"


def test_group_add_and_unknown_user(pp: Pypod) -> None:
    out = run(pp, "--user", "alice", "--group-add", "audio", "--group-add", "4242", CUSTOM, "id")
    assert out.strip() == "uid=1001(alice) gid=1002(staff) groups=63(audio),1002(staff),4242"
    out = run(pp, "--group-add", "staff", CUSTOM, "id", "-G")
    assert out.split() == ["0", "1002"]
    r = pp("run", "--rm", *NONE, "--user", "bob", CUSTOM, "id")
    assert (r.rc, r.err.strip()) == (126, "Error: unable to find user bob: no matching entries in passwd file"), r


# --- rlimits -------------------------------------------------------------------------------------
def _limits(text: str) -> dict[str, tuple[str, str]]:
    out = {}
    for line in text.splitlines()[1:]:
        parts = line[26:].split()
        if len(parts) >= 2:
            out[line[:26].strip()] = (parts[0], parts[1])
    return out


def test_ulimit_and_default_rlimits_within_host_hard_limits(pp: Pypod) -> None:
    out = run(pp, "--ulimit", "nofile=1024:2048", BUSYBOX_IMAGE, "sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/limits")
    soft, hard, *limits = out.splitlines()
    assert (soft, hard) == ("1024", "2048")
    assert _limits("\n".join(limits))["Max open files"] == ("1024", "2048")

    inside = _limits(run(pp, BUSYBOX_IMAGE, "cat", "/proc/self/limits"))
    for name, key in (("Max open files", "RLIMIT_NOFILE"), ("Max processes", "RLIMIT_NPROC")):
        host_hard = resource.getrlimit(getattr(resource, key))[1]
        if host_hard == resource.RLIM_INFINITY:
            continue
        soft_s, hard_s = inside[name]
        assert soft_s != "unlimited" and hard_s != "unlimited", (name, inside[name])
        assert int(soft_s) <= int(hard_s) <= host_hard, (name, inside[name], host_hard)


# --- capabilities, seccomp, no-new-privileges, privileged ---------------------------------------
def test_capabilities_seccomp_and_privileges(pp: Pypod, tmp_path: Path) -> None:
    default = status_fields(run(pp, BUSYBOX_IMAGE, "sh", "-c", STATUS))
    assert (default["CapEff"], default["Seccomp"], default["NoNewPrivs"]) == (DEFAULT_CAPS, "2", "0")

    out = run(pp, "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", BUSYBOX_IMAGE,
              "sh", "-c", f"{STATUS}; chown 1 /tmp 2>/dev/null; echo chown=$?")  # fmt: skip
    caps = int(status_fields(out)["CapEff"], 16)
    assert caps & (1 << 12) and not caps & 1, out  # CAP_NET_ADMIN = 12, CAP_CHOWN = 0
    assert caps == (int(DEFAULT_CAPS, 16) | 1 << 12) & ~1
    assert "chown=1" in out.splitlines()

    out = run(pp, "--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined",
              BUSYBOX_IMAGE, "sh", "-c", STATUS)  # fmt: skip
    fields = status_fields(out)
    assert (fields["NoNewPrivs"], fields["Seccomp"], fields["CapEff"]) == ("1", "0", DEFAULT_CAPS)

    profile = tmp_path / "nomkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))  # fmt: skip
    r = pp("run", "--rm", *NONE, "--security-opt", f"seccomp={profile}", BUSYBOX_IMAGE,
           "sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/x; echo mkdir=$?; touch /tmp/f && echo touch=ok")  # fmt: skip
    assert r.rc == 0, r
    assert r.out.split() == ["Seccomp:", "2", "mkdir=1", "touch=ok"], r
    assert "Operation not permitted" in r.err, r

    # privileged: every capability we hold, no seccomp, nothing masked, /sys and /proc/sys writable mounts
    out = run(pp, "--privileged", BUSYBOX_IMAGE, "sh", "-c",
              f"{STATUS}; mount | grep -c -E ' /proc/(kcore|keys|sys) '; mount | grep ' /sys '")  # fmt: skip
    fields = status_fields(out)
    assert fields["CapEff"] == own_cap_bounding() and fields["Seccomp"] == "0", out
    lines = out.splitlines()
    assert lines[4] == "0", out  # no masked or read-only /proc paths
    assert "(rw," in lines[5], out


# --- root filesystem and mounts ------------------------------------------------------------------
def test_read_only_root_and_its_tmpfs(pp: Pypod) -> None:
    script = "for d in / /tmp /var/tmp /run /dev/shm; do touch $d/probe 2>/dev/null && echo $d=rw || echo $d=ro; done"
    assert run(pp, "--read-only", BUSYBOX_IMAGE, "sh", "-c", script).split() == [
        "/=ro", "/tmp=rw", "/var/tmp=rw", "/run=rw", "/dev/shm=rw"]  # fmt: skip
    out = run(pp, "--read-only", "--read-only-tmpfs=false", BUSYBOX_IMAGE, "sh", "-c", script)
    assert out.split()[:2] == ["/=ro", "/tmp=ro"], out
    assert run(pp, "--read-only", BUSYBOX_IMAGE, "test", "-f", "/run/.containerenv") == ""


def test_kernel_mounts_binds_and_tmpfs(pp: Pypod, tmp_path: Path) -> None:
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "f").write_text("hostfile\n")
    out = run(pp, "--shm-size", "1m", "--tmpfs", "/x:size=1m", "-v", f"{host}:/ro:ro", "-v", f"{host}:/rw",
              BUSYBOX_IMAGE, "sh", "-c",
              "stat -c 'shm=%a' /dev/shm; df -k /dev/shm /x | awk 'NR>1 {print $6 \"=\" $2}'; "
              "mount | awk '$3==\"/dev/mqueue\" || $3==\"/sys\" || $3==\"/x\" {print $3, $5, $6}'; "
              "cat /ro/f; touch /ro/n 2>/dev/null || echo ro-refused; echo w > /rw/w && echo rw-ok; "
              "touch /sys/probe 2>/dev/null || echo sys-refused")  # fmt: skip
    lines = out.splitlines()
    assert lines[:3] == ["shm=1777", "/dev/shm=1024", "/x=1024"], out
    mounts = {line.split()[0]: line.split()[1:] for line in lines[3:6]}
    assert mounts["/dev/mqueue"][0] == "mqueue", out
    assert mounts["/sys"][0] == "sysfs" and "(ro," in mounts["/sys"][1], out
    assert mounts["/x"][0] == "tmpfs" and "size=1024k" in mounts["/x"][1], out
    assert lines[6:] == ["hostfile", "ro-refused", "rw-ok", "sys-refused"], out
    assert (host / "w").read_text() == "w\n"
    assert not (host / "n").exists()
    assert run(pp, BUSYBOX_IMAGE, "stat", "-c", "%a", "/dev/shm").strip() == "1777"


def test_named_and_anonymous_volumes(pp: Pypod) -> None:
    # named volume: image content copied up on first use, data kept across containers
    assert run(pp, "-v", "nv:/data", CUSTOM, "sh", "-c", "cat /data/seed; echo more > /data/more").strip() == "seeded"
    assert run(pp, "-v", "nv:/data", BUSYBOX_IMAGE, "ls", "/data").split() == ["more", "seed"]
    assert run(pp, "-v", "nv:/data:ro", BUSYBOX_IMAGE, "sh", "-c", "touch /data/x 2>/dev/null || echo refused").strip() == "refused"
    # anonymous volume from the image's VOLUME: seeded with the image content, owner kept
    before = set(pp.ok("volume", "ls", "-q").out.split())
    out = run(pp, CUSTOM, "sh", "-c", "stat -c '%u:%g' /data/seed; cat /data/seed")
    assert out.split() == ["1001:1002", "seeded"]
    assert set(pp.ok("volume", "ls", "-q").out.split()) == before, "run --rm removes the anonymous volume"

    pp.ok("run", *NONE, "--name", "keep", CUSTOM, "true")
    pp.ok("run", *NONE, "--name", "drop", CUSTOM, "true")
    anon = {name: pp.ok("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", name).out.strip() for name in ("keep", "drop")}
    assert all(anon.values()) and set(anon.values()) <= set(pp.ok("volume", "ls", "-q").out.split())
    pp.ok("rm", "keep")
    pp.ok("rm", "-v", "drop")
    remaining = set(pp.ok("volume", "ls", "-q").out.split())
    assert anon["keep"] in remaining and anon["drop"] not in remaining
    pp.ok("volume", "rm", anon["keep"], "nv")


# --- namespaces ----------------------------------------------------------------------------------
def test_host_namespaces(pp: Pypod) -> None:
    out = run(pp, "--pid", "host", "--ipc", "host", "--uts", "host", BUSYBOX_IMAGE, "sh", "-c",
              f"test -d /proc/{os.getpid()} && echo sees-host; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; "
              "echo $(hostname) $HOSTNAME $(cat /etc/hostname)")  # fmt: skip
    nodename = os.uname().nodename
    assert out.splitlines() == ["sees-host", os.readlink("/proc/self/ns/ipc"), os.readlink("/proc/self/ns/uts"),
                                f"{nodename} {nodename} {nodename}"]  # fmt: skip
    r = pp("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", BUSYBOX_IMAGE, "true")
    assert r.rc == 125 and "Network Namespace set to host" in r.err, r
    r = pp("run", "--rm", *NONE, "--uts", "host", "--hostname", "x", BUSYBOX_IMAGE, "true")
    assert r.rc == 125 and "cannot set hostname when running in the host UTS namespace" in r.err, r


def test_joining_another_containers_namespaces(pp: Pypod) -> None:
    pp.ok("run", "-d", *NONE, "--name", "target", "--hostname", "tgt", BUSYBOX_IMAGE, "sleep", "1000")
    try:
        pid = pp.ok("inspect", "-f", "{{.State.Pid}}", "target").out.strip()
        out = run(pp, "--pid", "container:target", "--ipc", "container:target", "--uts", "container:target",
                  BUSYBOX_IMAGE, "sh", "-c",
                  "for n in pid ipc uts; do readlink /proc/self/ns/$n; done; echo $(hostname) $HOSTNAME; "
                  "cat /proc/1/cmdline | tr '\\0' ' '")  # fmt: skip
        expected = [os.readlink(f"/proc/{pid}/ns/{n}") for n in ("pid", "ipc", "uts")]
        lines = out.splitlines()
        assert lines[:3] == expected, out
        assert lines[3] == "tgt tgt", out
        assert lines[4].strip() == "sleep 1000", out
        # joining must not rename the target
        assert pp.ok("exec", "target", "hostname").out.strip() == "tgt"
        ipc_private = run(pp, "--ipc", "private", BUSYBOX_IMAGE, "readlink", "/proc/self/ns/ipc").strip()
        assert ipc_private not in (expected[1], os.readlink("/proc/self/ns/ipc"))
    finally:
        pp("rm", "-f", "-t", "0", "target")


# --- resources, devices, sysctls -----------------------------------------------------------------
def test_cgroup_resources_devices_sysctls(pp: Pypod) -> None:
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        pytest.skip("cgroup v1 memory controller not mounted at /sys/fs/cgroup/memory")
    out = run(pp, "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50",
              "--device", "/dev/null:/dev/mynull", "--sysctl", "net.ipv4.ip_forward=1",
              "--sysctl", "kernel.msgmax=4096", BUSYBOX_IMAGE, "sh", "-c",
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
              "/sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max; "
              "stat -c '%t:%T %F' /dev/mynull; echo data > /dev/mynull && echo wrote; "
              "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax")  # fmt: skip
    assert out.splitlines() == ["67108864", "50000", "100000", "50", "1:3 character special file", "wrote", "1", "4096"]


# --- run/create metadata flags -------------------------------------------------------------------
def test_init_entrypoint_and_metadata(pp: Pypod, tmp_path: Path) -> None:
    assert run(pp, "--init", BUSYBOX_IMAGE, "cat", "/proc/1/comm").strip() == "podman-init"
    assert run(pp, BUSYBOX_IMAGE, "cat", "/proc/1/comm").strip() == "cat"
    assert run(pp, "--entrypoint", "/bin/echo", BUSYBOX_IMAGE, "hello").strip() == "hello"
    assert run(pp, "--entrypoint", '["/bin/echo","a"]', BUSYBOX_IMAGE, "b").strip() == "a b"

    cidfile = tmp_path / "cid"
    trap = 'trap "echo got-usr1; exit 9" USR1; echo ready; while :; do sleep 0.1; done'
    cid = pp.ok("create", *NONE, "--name", "meta", "--cidfile", str(cidfile), "--annotation", "ann.one=1",
                "-l", "lab=v", "--stop-signal", "SIGUSR1", "--stop-timeout", "7",
                BUSYBOX_IMAGE, "sh", "-c", trap).out.strip()  # fmt: skip
    assert cidfile.read_text().strip() == cid
    got = pp.ok("inspect", "-f", '{{index .Config.Annotations "ann.one"}} {{.Config.Labels.lab}} '
                "{{.Config.StopSignal}} {{.Config.StopTimeout}}", "meta").out.split()  # fmt: skip
    assert got == ["1", "v", "10", "7"]
    pp.ok("start", "meta")
    wait_for(lambda: "ready" in pp.ok("logs", "meta").out, DEADLINE, message="trap installed")
    pp.ok("stop", "meta")  # sends the stop signal: the trap exits 9
    assert pp.ok("inspect", "-f", "{{.State.ExitCode}}", "meta").out.strip() == "9"
    assert "got-usr1" in pp.ok("logs", "meta").out

    # --stop-timeout is the default of `stop -t`: a process ignoring SIGTERM is killed after 1 s, not 10 s
    pp.ok("run", "-d", *NONE, "--name", "stubborn", "--stop-timeout", "1", BUSYBOX_IMAGE,
          "sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.1; done')  # fmt: skip
    wait_for(lambda: "ready" in pp.ok("logs", "stubborn").out, DEADLINE, message="trap installed")
    started = time.monotonic()
    pp.ok("stop", "stubborn")
    assert time.monotonic() - started < 9
    assert pp.ok("inspect", "-f", "{{.State.ExitCode}}", "stubborn").out.strip() == "137"
    pp.ok("rm", "meta", "stubborn")


# --- commands of the life cycle ------------------------------------------------------------------
def test_wait_pause_kill_rename_exists_cleanup_prune(pp: Pypod) -> None:
    trap = 'trap "echo got-usr1; exit 9" USR1; echo ready; while :; do sleep 0.1; done'
    pp.ok("run", "-d", *NONE, "--name", "w1", BUSYBOX_IMAGE, "sh", "-c", trap)
    assert pp.ok("wait", "--condition", "running", "w1").out.strip() == "-1"
    wait_for(lambda: "ready" in pp.ok("logs", "w1").out, DEADLINE, message="trap installed")
    pp.ok("pause", "w1")
    assert pp.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "w1").out.split() == ["paused", "true"]
    pp.ok("unpause", "w1")
    assert pp.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "w1").out.split() == ["running", "false"]
    assert pp.ok("kill", "-s", "USR1", "w1").out.strip() == "w1"
    assert pp.ok("wait", "--condition", "stopped", "w1").out.strip() == "9"
    assert pp.ok("logs", "w1").out.split() == ["ready", "got-usr1"]

    assert pp.ok("rename", "w1", "w2").out == ""
    assert pp("container", "exists", "w2").rc == 0
    assert pp("container", "exists", "w1").rc == 1
    assert pp.ok("container", "cleanup", "w2").rc == 0
    cid = pp.ok("inspect", "-f", "{{.Id}}", "w2").out.strip()
    assert cid in pp.ok("container", "prune", "-f").out.split()
    assert pp("container", "exists", "w2").rc == 1


def test_logs_and_events_time_filters(pp: Pypod) -> None:
    pp.ok("run", *NONE, "--name", "l1", BUSYBOX_IMAGE, "sh", "-c", "echo one; echo two")
    stamped = pp.ok("logs", "-t", "l1").out.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two"]
    assert all(line.split(" ", 1)[0].endswith("Z") or "+" in line.split(" ", 1)[0] for line in stamped)
    assert pp.ok("logs", "--since", "2000-01-01T00:00:00Z", "--until", "2099-01-01T00:00:00Z", "l1").out == "one\ntwo\n"
    assert pp.ok("logs", "--until", "2000-01-01T00:00:00Z", "l1").out == ""
    assert pp.ok("logs", "--since", "2099-01-01T00:00:00Z", "l1").out == ""
    assert pp.ok("logs", "--since", "10m", "l1").out == "one\ntwo\n"

    statuses = pp.ok("events", "--stream=false", "--since", "10m", "--filter", "container=l1",
                     "--format", "{{.Status}}").out.split()  # fmt: skip
    assert statuses[:5] == ["create", "init", "start", "died", "cleanup"], statuses
    died = pp.ok("events", "--stream=false", "--filter", "event=died", "--filter", "container=l1",
                 "--format", "{{.Name}} {{.Status}}").out.splitlines()  # fmt: skip
    assert died == ["l1 died"]
    assert pp.ok("events", "--stream=false", "--until", "2000-01-01T00:00:00Z").out == ""
    pp.ok("rm", "l1")
