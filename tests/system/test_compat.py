"""Behaviour pinned to podman 4.3.1's (compared side by side; see docs/COMPATIBILITY.md).

Only pypod runs here: the expected texts, exit codes and key sets were taken from podman.
"""

from __future__ import annotations

import json
import re

from pypodcli import Pypod

IMAGE = "localhost/busybox:latest"
NO_CTR = 'Error: no container with name or ID "nosuch" found: no such container\n'

# key sets (and order, for inspect) printed by podman 4.3.1
INSPECT_TOP = [
    "Id", "Created", "Path", "Args", "State", "Image", "ImageDigest", "ImageName", "Rootfs", "Pod",
    "ResolvConfPath", "HostnamePath", "HostsPath", "StaticDir", "OCIConfigPath", "OCIRuntime", "ConmonPidFile",
    "PidFile", "Name", "RestartCount", "Driver", "MountLabel", "ProcessLabel", "AppArmorProfile", "EffectiveCaps",
    "BoundingCaps", "ExecIDs", "GraphDriver", "Mounts", "Dependencies", "NetworkSettings", "Namespace", "IsInfra",
    "IsService", "Config", "HostConfig",
]  # fmt: skip
STATE_RUNNING = [
    "OciVersion", "Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ConmonPid", "ExitCode",
    "Error", "StartedAt", "FinishedAt", "Health", "CgroupPath", "CheckpointedAt", "RestoredAt",
]  # fmt: skip
STATE_EXITED = [k for k in STATE_RUNNING if k not in ("ConmonPid", "CgroupPath")]
CONFIG_KEYS = [
    "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin",
    "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels", "Annotations",
    "StopSignal", "HealthcheckOnFailureAction", "CreateCommand", "Umask", "Timeout", "StopTimeout", "Passwd",
    "sdNotifyMode",
]  # fmt: skip
HOSTCONFIG_KEYS = [
    "Binds", "CgroupManager", "CgroupMode", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings",
    "RestartPolicy", "AutoRemove", "VolumeDriver", "VolumesFrom", "CapAdd", "CapDrop", "Dns", "DnsOptions",
    "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Cgroups", "Links", "OomScoreAdj", "PidMode",
    "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "Tmpfs", "UTSMode", "UsernsMode", "ShmSize",
    "Runtime", "ConsoleSize", "Isolation", "CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight",
    "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
    "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices",
    "DiskQuota", "KernelMemory", "MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable",
    "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth", "CgroupConf",
]  # fmt: skip
PODMAN_ANNOTATIONS = [
    "io.container.manager", "io.kubernetes.cri-o.Created", "io.kubernetes.cri-o.TTY",
    "io.podman.annotations.autoremove", "io.podman.annotations.init", "io.podman.annotations.privileged",
    "io.podman.annotations.publish-all", "org.opencontainers.image.stopSignal",
]  # fmt: skip
PS_JSON_KEYS = {
    "AutoRemove", "Command", "Created", "CreatedAt", "ExitCode", "Exited", "ExitedAt", "Id", "Image", "ImageID",
    "IsInfra", "Labels", "Mounts", "Names", "Namespaces", "Networks", "Pid", "Pod", "PodName", "Ports", "Size",
    "StartedAt", "State", "Status",
}  # fmt: skip
IMAGE_INSPECT_KEYS = [
    "Id", "Digest", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Config", "Version", "Author",
    "Architecture", "Os", "Size", "VirtualSize", "GraphDriver", "RootFS", "Labels", "Annotations", "ManifestType",
    "User", "History", "NamesHistory",
]  # fmt: skip
IMAGES_JSON_KEYS = {
    "Containers", "Created", "CreatedAt", "Digest", "History", "Id", "Labels", "Names", "ParentId", "RepoDigests",
    "RepoTags", "SharedSize", "Size", "VirtualSize",
}  # fmt: skip


def _columns(header: str, row: str, names: list[str]) -> None:
    """Each header word starts at the column where its value starts (tabwriter: 2 spaces of padding)."""
    for name in names:
        pos = header.index(name)
        assert pos == 0 or header[pos - 2 : pos] == "  ", (name, header)
        assert pos == 0 or (row[pos - 1] == " " and row[pos] != " "), (name, header, row)


def test_usage_errors_and_missing_names(pypod: Pypod) -> None:
    p = pypod
    r = p("run", "--foo", IMAGE)
    assert (r.rc, r.out, r.err) == (125, "", "Error: unknown flag: --foo\nSee 'pypod run --help'\n"), r
    r = p("nosuchcommand")
    assert (r.rc, r.err) == (125, "Error: unrecognized command `pypod nosuchcommand`\n"
                                  "Try 'pypod --help' for more information\n"), r  # fmt: skip
    r = p("container", "nosuch")
    assert (r.rc, r.err) == (125, "Error: unrecognized command `pypod container nosuch`\n"
                                  "Try 'pypod container --help' for more information\n"), r  # fmt: skip
    counts = {
        ("create",): "requires at least 1 arg(s), only received 0",
        ("run",): "requires at least 1 arg(s), only received 0",
        ("start",): "start requires at least one argument",
        ("stop",): "you must provide at least one name or id",
        ("rm",): "you must provide at least one name or id",
        ("kill",): "you must provide at least one name or id",
        ("wait",): '"pypod wait" requires a name, id, or the "--latest" flag',
        ("rename", "a"): "accepts 2 arg(s), received 1",
        ("logs",): "specify at least one container name or ID to log",
        ("inspect",): "no names or ids specified",
        ("container", "exists"): "accepts 1 arg(s), received 0",
        ("tag", IMAGE): "requires at least 2 arg(s), only received 1",
        ("untag",): "requires at least 1 arg(s), only received 0",
        ("history",): "accepts 1 arg(s), received 0",
        ("image", "inspect"): "no names or ids specified",
        ("image", "exists"): "accepts 1 arg(s), received 0",
        ("ps", "extra"): "`pypod ps` takes no arguments",
        ("images", "a", "b"): "accepts at most 1 arg(s), received 2",
    }
    for argv, msg in counts.items():
        r = p(*argv)
        assert (r.rc, r.out, r.err) == (125, "", f"Error: {msg}\n"), r
    for argv in (("run", "--help"), ("ps", "--help"), ("inspect", "--help"), ("images", "--help")):
        assert p(*argv).rc == 0
    for cmd in ("stop", "start", "kill", "rm", "wait", "logs", "restart", "pause", "unpause"):
        r = p(cmd, "nosuch")
        assert (r.rc, r.out, r.err) == (1 if cmd == "rm" else 125, "", NO_CTR), r
    r = p("rm", "-f", "nosuch")
    assert (r.rc, r.out, r.err) == (0, "", ""), r
    r = p("inspect", "nosuch")
    assert (r.rc, r.out, r.err) == (125, "[]\n", 'Error: inspecting object: no such object: "nosuch"\n'), r
    r = p("container", "inspect", "--format", "{{.Id}}", "nosuch")
    assert (r.rc, r.out, r.err) == (125, "", "Error: inspecting object: no such container nosuch\n"), r
    assert p("container", "exists", "nosuch").rc == 1
    assert p("image", "exists", "nosuch").rc == 1
    assert p.ok("ps", "-a").out == "CONTAINER ID  IMAGE       COMMAND     CREATED     STATUS      PORTS       NAMES\n"


def test_container_outputs_match_podman(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    created = p.ok("create", "--network", "none", "--name", "c1", IMAGE, "true").out.strip()
    running = p.ok("run", "-d", "--network", "none", "--name", "d1", "-l", "a=b", "-e", "A=1", IMAGE,
                   "sleep", "1000").out.strip()  # fmt: skip
    r = p("run", "--network", "none", "--name", "e1", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 4")
    assert (r.rc, r.out, r.err) == (4, "out\n", "err\n"), r

    # ps table: header words aligned with their values, 2-space padding
    lines = p.ok("ps", "-a").out.splitlines()
    assert lines[0].startswith("CONTAINER ID  IMAGE                     COMMAND ")
    row = next(line for line in lines if line.endswith("d1"))
    assert row.startswith(running[:12] + "  " + IMAGE + "  sleep 1000")
    _columns(lines[0], row, ["IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"])
    sized = p.ok("ps", "-a", "-s").out.splitlines()
    assert sized[0].endswith("NAMES       SIZE")
    assert all(re.search(r"  \d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)$", line) for line in sized[1:]), sized
    assert p.ok("ps", "-a", "--format", "table {{.ID}}\t{{.Image}}").out.splitlines()[0] == "CONTAINER ID  IMAGE"
    assert p.ok("ps", "-a", "--sort", "names", "--format", "{{.Names}}").out == "c1\nd1\ne1\n"
    assert p.ok("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}").out.startswith(
        "e1 Exited (4) "
    )
    raw = p.ok("ps", "-a", "--format", "json").out
    assert "echo err \\u003e\\u00262" in raw  # Go's HTML-safe JSON escapes
    docs = json.loads(raw)
    assert all(set(doc) == PS_JSON_KEYS for doc in docs), [sorted(doc) for doc in docs]

    # inspect: 5-space indent, podman's keys in podman's order
    raw = p.ok("inspect", "d1").out
    assert raw.startswith('[\n     {\n          "Id": "')
    doc = json.loads(raw)[0]
    assert list(doc) == INSPECT_TOP
    assert list(doc["State"]) == STATE_RUNNING
    assert doc["State"]["CgroupPath"].endswith("/libpod-" + running)
    assert list(doc["Config"]) == CONFIG_KEYS
    assert list(doc["HostConfig"]) == HOSTCONFIG_KEYS
    assert list(doc["Config"]["Annotations"]) == PODMAN_ANNOTATIONS
    assert doc["Config"]["Annotations"]["io.podman.annotations.autoremove"] == "FALSE"
    assert doc["EffectiveCaps"][0] == "CAP_CHOWN" and all(c.startswith("CAP_") for c in doc["EffectiveCaps"])
    assert doc["HostConfig"]["CapDrop"] == ["CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"]
    assert doc["HostConfig"]["CapAdd"] == []
    assert doc["HostConfig"]["ShmSize"] == 65536000
    assert doc["Config"]["Env"][-3:] == ["A=1", "HOME=/root", f"HOSTNAME={running[:12]}"]
    assert "container=pypod" in doc["Config"]["Env"]
    data = doc["GraphDriver"]["Data"]
    assert list(data) == ["LowerDir", "MergedDir", "UpperDir", "WorkDir"]
    assert all(v.startswith("/") for v in data.values()), data
    exited = json.loads(p.ok("inspect", "e1").out)[0]
    assert list(exited["State"]) == STATE_EXITED
    assert list(exited["GraphDriver"]["Data"]) == ["LowerDir", "UpperDir", "WorkDir"]
    assert p.ok("inspect", "--format", "{{.State.Status}}", "d1", "e1").out == "running\nexited\n"
    assert p.ok("inspect", "--format", '{{index .Config.Labels "a"}}', "d1").out == "b\n"
    assert p.ok("inspect", "--format", "{{json .Mounts}}", "d1").out == "[]\n"
    assert p.ok("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", "d1").out == "\n"
    r = p("inspect", "d1", "nosuch")
    assert r.rc == 125 and json.loads(r.out)[0]["Id"] == running
    assert r.err == 'Error: inspecting object: no such object: "nosuch"\n'

    # rename onto a taken name: podman's wording
    r = p("rename", "e1", "d1")
    assert r.rc == 125, r
    exited_id = exited["Id"]
    assert r.err == (f"Error: renaming container {exited_id}: name d1 already in use, "
                     f"cannot rename container {exited_id}: container already exists\n"), r  # fmt: skip

    # rm of a running container without -f; several names with one missing
    r = p("rm", "d1")
    assert r.rc == 2 and r.err.startswith(f"Error: cannot remove container {running} as it is running"), r
    r = p("rm", "c1", "nosuch", "e1")
    assert (r.rc, r.out, r.err) == (1, "", NO_CTR), r  # podman looks all names up first
    assert p("container", "exists", "c1").rc == 0

    # stop --all prints every container, stopped ones too
    p.ok("create", "--network", "none", "--name", "c2", IMAGE, "true")
    everything = sorted(p.ok("ps", "-aq", "--no-trunc").out.split())
    assert len(everything) == 4 and running in everything
    assert sorted(p.ok("stop", "-a", "-t", "0").out.split()) == everything


def test_image_outputs_match_podman(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    raw = p.ok("image", "inspect", IMAGE).out
    assert raw.startswith('[\n     {\n          "Id": "')
    doc = json.loads(raw)[0]
    assert list(doc) == IMAGE_INSPECT_KEYS
    # Go prints times without trailing zeros in the fraction
    for value in [doc["Created"]] + [h["created"] for h in doc["History"]]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z", value), value
    assert p.ok("inspect", "--format", "{{.Id}}", IMAGE).out.strip() == doc["Id"]
    docs = json.loads(p.ok("images", "--format", "json").out)
    assert set(docs[0]) == IMAGES_JSON_KEYS
    lines = p.ok("images").out.splitlines()
    assert lines[0].startswith("REPOSITORY         TAG         IMAGE ID      CREATED ")
    assert lines[1].startswith("localhost/busybox  latest      " + doc["Id"][:12] + "  ")
    assert p.ok("images", "-q").out == doc["Id"][:12] + "\n"

    assert p.ok("tag", IMAGE, "localhost/t:1", "t2").out == ""
    assert p.ok("untag", IMAGE, "localhost/t:1").out == ""
    r = p("untag", "localhost/t:1")
    assert (r.rc, r.err) == (125, "Error: localhost/t:1: image not known\n"), r
    r = p("rmi", "localhost/t2")
    assert (r.rc, r.out, r.err) == (0, "Untagged: localhost/t2:latest\n", ""), r
    r = p("rmi", "nosuch")
    assert (r.rc, r.out, r.err) == (1, "", "Error: nosuch: image not known\n"), r
    r = p("history", "nosuch")
    assert (r.rc, r.err) == (125, "Error: nosuch: image not known\n"), r
    assert p.ok("history", IMAGE).out.splitlines()[0].split() == ["ID", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
