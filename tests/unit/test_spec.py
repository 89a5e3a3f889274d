"""Unit tests of the OCI spec generator (pypod.libpod.spec) and its helpers."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from types import SimpleNamespace

import pytest

from pypod.errors import InvalidArgument
from pypod.libpod import etcfiles, seccomp
from pypod.libpod.container.model import ContainerConfig
from pypod.libpod.spec import DEFAULT_CAPS, GeneratedFiles, generate_spec, parse_ulimit, resolve_user

SCHEMA_DIR = Path("/work/shared/schemas/runtime-spec-v1.0.2")
SECCOMP_JSON = "/usr/share/containers/seccomp.json"
CTR_ID = "a" * 64


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT4

    if not SCHEMA_DIR.is_dir():
        pytest.skip(f"runtime-spec schemas missing at {SCHEMA_DIR}")
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        contents = json.loads(path.read_text())
        resources.append((path.as_uri(), DRAFT4.create_resource(contents)))
    registry = referencing.Registry().with_resources(resources)
    root = json.loads((SCHEMA_DIR / "config-schema.json").read_text())
    root["id"] = (SCHEMA_DIR / "config-schema.json").as_uri()
    return jsonschema.Draft4Validator(root, registry=registry)


@pytest.fixture(scope="module")
def validator():
    return _validator()


@pytest.fixture()
def rootfs(tmp_path: Path) -> str:
    etc = tmp_path / "rootfs" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
        "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    )
    (etc / "group").write_text(
        "root:x:0:\nwheel:x:10:root,alice\nalice:x:1000:\nstaff:x:50:alice\naudio:x:29:\n"
    )
    return str(tmp_path / "rootfs")


def engine(**kw):
    base = dict(
        default_ulimits=["nofile=20000:20000", "nproc=4096:4096"],
        default_capabilities=[c[4:] for c in DEFAULT_CAPS],
        seccomp_profile="",
        init_path="/usr/bin/catatonit",
        pids_limit=2048,
    )
    base.update(kw)
    return SimpleNamespace(**base)


def cfg(**kw) -> ContainerConfig:
    kw.setdefault("command", None)
    return ContainerConfig(id=CTR_ID, name="web", created="2024-01-01T00:00:00.000000000Z", **kw)


IMAGE = {"config": {"Env": ["PATH=/usr/bin:/bin", "FOO=image"], "Cmd": ["sh"], "WorkingDir": ""}}


def gen(c: ContainerConfig, rootfs: str, image=IMAGE, files=None, eng=None, **kw):
    return generate_spec(c, image, rootfs, files or GeneratedFiles(), eng or engine(), **kw)


def test_defaults(rootfs, validator):
    spec = gen(cfg(), rootfs)
    validator.validate(spec)
    proc = spec["process"]
    assert proc["args"] == ["sh"]
    assert proc["cwd"] == "/"
    assert proc["user"]["uid"] == 0 and proc["user"]["gid"] == 0
    caps = proc["capabilities"]
    assert sorted(caps["effective"]) == sorted(DEFAULT_CAPS)
    assert caps["bounding"] == caps["effective"] == caps["permitted"]
    assert caps["inheritable"] == [] and caps["ambient"] == []
    linux = spec["linux"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "SCMP_ARCH_X86_64" in linux["seccomp"]["architectures"] or os.uname().machine != "x86_64"
    assert "/proc/kcore" in linux["maskedPaths"]
    assert "/proc/sys" in linux["readonlyPaths"]
    assert linux["resources"]["pids"] == {"limit": 2048}
    types = {ns["type"] for ns in linux["namespaces"]}
    assert types == {"pid", "network", "ipc", "uts", "mount"}
    assert spec["hostname"] == CTR_ID[:12]
    dests = [m["destination"] for m in spec["mounts"]]
    for d in ("/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm"):
        assert d in dests
    env = dict(e.split("=", 1) for e in proc["env"])
    assert env["PATH"] == "/usr/bin:/bin" and env["FOO"] == "image"
    assert env["container"] == "pypod" and env["HOSTNAME"] == CTR_ID[:12]
    assert "TERM" not in env


def test_rlimits_capped_to_host(rootfs, validator):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    spec = gen(cfg(ulimits=["nofile=99999999:99999999", "core=-1"]), rootfs)
    validator.validate(spec)
    limits = {r["type"]: r for r in spec["process"]["rlimits"]}
    if hard != resource.RLIM_INFINITY:
        assert limits["RLIMIT_NOFILE"]["hard"] == hard and limits["RLIMIT_NOFILE"]["soft"] == hard
    assert limits["RLIMIT_NPROC"]["hard"] <= 4096
    core_hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if core_hard != resource.RLIM_INFINITY:
        assert limits["RLIMIT_CORE"]["hard"] == core_hard
    for r in limits.values():
        assert r["soft"] <= r["hard"]


def test_parse_ulimit_errors():
    assert parse_ulimit("nofile=10:20") == ("RLIMIT_NOFILE", 10, 20)
    with pytest.raises(InvalidArgument):
        parse_ulimit("bogus=1")
    with pytest.raises(InvalidArgument):
        parse_ulimit("nofile=20:10")


def test_user_resolution(rootfs, validator):
    assert resolve_user(rootfs, "") == (0, 0, [0, 10], "root")
    assert resolve_user(rootfs, "alice") == (1000, 1000, [1000, 10, 50], "alice")
    assert resolve_user(rootfs, "1000") == (1000, 1000, [1000, 10, 50], "alice")
    assert resolve_user(rootfs, "4242") == (4242, 0, [0], "")
    assert resolve_user(rootfs, "alice:audio")[:2] == (1000, 29)
    assert resolve_user(rootfs, "5:7")[:2] == (5, 7)
    assert resolve_user(rootfs, "daemon", ["audio", "123"])[2] == [1, 29, 123]
    with pytest.raises(InvalidArgument, match="unable to find user nobody: no matching entries in passwd file"):
        resolve_user(rootfs, "nobody")
    with pytest.raises(InvalidArgument, match="unable to find group nogroup"):
        resolve_user(rootfs, "alice:nogroup")
    spec = gen(cfg(user="alice"), rootfs)
    validator.validate(spec)
    assert spec["process"]["user"]["uid"] == 1000


def test_user_from_image_and_symlinked_etc(tmp_path, validator):
    root = tmp_path / "r"
    (root / "real").mkdir(parents=True)
    (root / "real" / "passwd").write_text("bob:x:7:8::/:/bin/sh\n")
    os.symlink("/real", root / "etc")
    spec = gen(cfg(), str(root), image={"config": {"User": "bob", "Cmd": ["true"]}})
    validator.validate(spec)
    assert spec["process"]["user"]["uid"] == 7 and spec["process"]["user"]["gid"] == 8


def test_env_merge_and_tty(rootfs):
    spec = gen(cfg(env={"FOO": "user", "HOSTNAME": "h"}, tty=True, hostname="box"), rootfs)
    env = dict(e.split("=", 1) for e in spec["process"]["env"])
    assert env["FOO"] == "user" and env["HOSTNAME"] == "h" and env["TERM"] == "xterm"
    assert spec["process"]["terminal"] is True and spec["hostname"] == "box"
    spec = gen(cfg(), rootfs, image={"config": {"Cmd": ["x"]}})
    env = dict(e.split("=", 1) for e in spec["process"]["env"])
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.mark.parametrize(
    "entrypoint,command,image,expected",
    [
        (None, None, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/ep", "a"]),
        (None, ["b"], {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/ep", "b"]),
        (["/mine"], None, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/mine"]),
        (["/mine"], ["c"], {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/mine", "c"]),
        ([""], ["ls"], {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["ls"]),
        (None, None, {"Cmd": ["sh", "-c", "x"]}, ["sh", "-c", "x"]),
    ],
)
def test_entrypoint_and_command(rootfs, entrypoint, command, image, expected):
    spec = gen(cfg(entrypoint=entrypoint, command=command), rootfs, image={"config": image})
    assert spec["process"]["args"] == expected


def test_no_command_is_an_error(rootfs):
    with pytest.raises(InvalidArgument, match="no command or entrypoint provided"):
        gen(cfg(entrypoint=[""]), rootfs, image={"config": {"Cmd": ["a"]}})


def test_init_and_workdir(rootfs, validator):
    spec = gen(cfg(init=True, command=["top"], workdir="/srv"), rootfs, image={"config": {"WorkingDir": "/app"}})
    validator.validate(spec)
    assert spec["process"]["args"] == ["/run/podman-init", "--", "top"]
    assert spec["process"]["cwd"] == "/srv"
    init = [m for m in spec["mounts"] if m["destination"] == "/run/podman-init"]
    assert init and init[0]["source"] == "/usr/bin/catatonit"
    spec = gen(cfg(command=["x"]), rootfs, image={"config": {"WorkingDir": "/app"}})
    assert spec["process"]["cwd"] == "/app"


def test_capabilities_add_drop_all(rootfs, validator):
    eff = gen(cfg(cap_add=["NET_ADMIN"], cap_drop=["chown", "CAP_KILL"]), rootfs)["process"]["capabilities"]["effective"]
    assert "CAP_NET_ADMIN" in eff and "CAP_CHOWN" not in eff and "CAP_KILL" not in eff
    eff = gen(cfg(cap_drop=["ALL"], cap_add=["SETUID"]), rootfs)["process"]["capabilities"]["effective"]
    assert eff == ["CAP_SETUID"]
    eff = gen(cfg(cap_add=["ALL"]), rootfs)["process"]["capabilities"]["effective"]
    assert "CAP_SYS_ADMIN" in eff
    with pytest.raises(InvalidArgument):
        gen(cfg(cap_add=["NOPE"]), rootfs)


def test_privileged(rootfs, validator):
    spec = gen(cfg(privileged=True), rootfs)
    validator.validate(spec)
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["effective"]
    linux = spec["linux"]
    assert "seccomp" not in linux and "maskedPaths" not in linux and "readonlyPaths" not in linux
    sysfs = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert "rw" in sysfs["options"]


def test_seccomp_conversion_follows_caps():
    profile = seccomp.load_profile(SECCOMP_JSON) if os.path.exists(SECCOMP_JSON) else pytest.skip(
        f"containers-common seccomp profile missing: {SECCOMP_JSON}"
    )
    plain = seccomp.to_oci(profile, DEFAULT_CAPS, machine="x86_64")
    admin = seccomp.to_oci(profile, DEFAULT_CAPS + ["CAP_SYS_ADMIN"], machine="x86_64")
    names = lambda p: {n for s in p["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" for n in s["names"]}  # noqa: E731
    assert "bpf" not in names(plain) and "bpf" in names(admin)
    assert "arch_prctl" in names(plain)
    arm = seccomp.to_oci(profile, DEFAULT_CAPS, machine="aarch64")
    assert "arch_prctl" not in names(arm) and arm["architectures"][0] == "SCMP_ARCH_AARCH64"
    assert plain["defaultErrnoRet"] == 38
    assert seccomp.seccomp_for("unconfined", DEFAULT_CAPS) is None


def test_seccomp_unconfined_and_file(rootfs, tmp_path, validator):
    assert "seccomp" not in gen(cfg(seccomp_profile="unconfined"), rootfs)["linux"]
    custom = tmp_path / "p.json"
    custom.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": []}]}))
    spec = gen(cfg(seccomp_profile=str(custom)), rootfs)
    validator.validate(spec)
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    with pytest.raises(InvalidArgument):
        gen(cfg(seccomp_profile=str(tmp_path / "missing.json")), rootfs)


def test_mounts_files_binds_volumes_tmpfs(rootfs, tmp_path, validator):
    files = GeneratedFiles(hosts="/run/x/hosts", resolv_conf="/run/x/resolv.conf",
                           hostname="/run/x/hostname", containerenv="/run/x/.containerenv", shm="")
    c = cfg(
        binds=[{"source": "/srv/data", "destination": "/data", "options": ["ro", "z"]}],
        volumes=[{"name": "v1", "source": "/var/v1/_data", "destination": "/v1", "options": []}],
        tmpfs={"/scratch": "size=1m,exec", "/dev/shm": "size=2m"},
        shm_size=1 << 20,
    )
    spec = gen(c, rootfs, files=files)
    validator.validate(spec)
    by_dest = {m["destination"]: m for m in spec["mounts"]}
    assert by_dest["/etc/hosts"]["source"] == "/run/x/hosts"
    assert by_dest["/etc/resolv.conf"]["source"] == "/run/x/resolv.conf"
    assert by_dest["/run/.containerenv"]["source"] == "/run/x/.containerenv"
    assert by_dest["/data"]["options"][:2] == ["ro", "rbind"] or "rbind" in by_dest["/data"]["options"]
    assert "ro" in by_dest["/data"]["options"] and "z" not in by_dest["/data"]["options"]
    assert by_dest["/v1"]["source"] == "/var/v1/_data"
    assert "exec" in by_dest["/scratch"]["options"] and "noexec" not in by_dest["/scratch"]["options"]
    shm = [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]
    assert len(shm) == 1 and "size=2m" in shm[0]["options"]
    with pytest.raises(InvalidArgument):
        gen(cfg(volumes=[{"name": "v", "destination": "/v"}]), rootfs)


def test_shm_bind_and_default_tmpfs(rootfs):
    spec = gen(cfg(), rootfs, files=GeneratedFiles(shm="/b/shm"))
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert shm["type"] == "bind" and shm["source"] == "/b/shm"
    spec = gen(cfg(shm_size=1234), rootfs)
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert shm["type"] == "tmpfs" and "size=1234" in shm["options"] and "mode=1777" in shm["options"]


def test_namespaces_and_resources(rootfs, validator):
    seen = []

    def resolve(kind, ctr):
        seen.append((kind, ctr))
        return f"/proc/42/ns/{'net' if kind == 'network' else kind}"

    c = cfg(network_mode="container:abc", pid_mode="host", ipc_mode="ns:/proc/7/ns/ipc", uts_mode="host",
            memory=64 << 20, cpus=1.5, pids_limit=-1, sysctls={"net.ipv4.ip_forward": "1"},
            annotations={"k": "v"}, read_only=True, devices=["/dev/null:/dev/mynull:rw"])
    spec = gen(c, rootfs, resolve_ns=resolve)
    validator.validate(spec)
    ns = {n["type"]: n.get("path") for n in spec["linux"]["namespaces"]}
    assert "pid" not in ns and "uts" not in ns
    assert ns["network"] == "/proc/42/ns/net" and ns["ipc"] == "/proc/7/ns/ipc"
    assert seen == [("network", "abc")]
    assert "hostname" not in spec
    res = spec["linux"]["resources"]
    assert res["memory"]["limit"] == 64 << 20
    assert res["cpu"] == {"period": 100000, "quota": 150000}
    assert "pids" not in res
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert spec["annotations"]["k"] == "v"
    assert spec["root"]["readonly"] is True
    dev = spec["linux"]["devices"][0]
    assert dev["path"] == "/dev/mynull" and dev["type"] == "c" and (dev["major"], dev["minor"]) == (1, 3)
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"} in res["devices"]
    assert res["devices"][0] == {"allow": False, "access": "rwm"}
    with pytest.raises(InvalidArgument, match="no such file"):
        gen(cfg(devices=["/dev/nonexistent-xyz"]), rootfs)


def test_hosts_resolv_hostname_containerenv(tmp_path):
    hosts = etcfiles.hosts_text(hostname="box", name="web", add_hosts=["db:10.0.0.5"], host_gateway="10.88.0.1")
    lines = hosts.splitlines()
    assert lines[0] == "10.0.0.5\tdb"
    assert any(l.startswith("127.0.0.1\tlocalhost") for l in lines)
    assert any(l.startswith("::1\tlocalhost") for l in lines)
    assert "10.88.0.1\thost.containers.internal" in lines
    assert lines[-1].endswith("box web")
    with pytest.raises(InvalidArgument):
        etcfiles.hosts_text(hostname="h", name="n", add_hosts=["bad"])

    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 1.1.1.1\nsearch example.com\noptions ndots:2\n")
    text = etcfiles.resolv_conf_text(host_file=str(host))
    assert "127.0.0.53" not in text and "nameserver 1.1.1.1" in text and "search example.com" in text
    text = etcfiles.resolv_conf_text(host_file=str(host), servers=["9.9.9.9"], search=["."], options=["debug"])
    assert text == "nameserver 9.9.9.9\noptions debug\n"
    host.write_text("nameserver 127.0.0.1\n")
    assert "nameserver 8.8.8.8" in etcfiles.resolv_conf_text(host_file=str(host))

    etcfiles.write_hostname(str(tmp_path / "hostname"), "box")
    assert (tmp_path / "hostname").read_text() == "box\n"
    etcfiles.write_containerenv(str(tmp_path / "ce"), privileged=False, name="n", ctr_id="i", image="x", image_id="y")
    assert (tmp_path / "ce").read_text() == ""
    text = etcfiles.containerenv_text(privileged=True, name="n", ctr_id="i", image="x", image_id="y")
    assert 'name="n"' in text and "rootless=" in text
