"""Generating a container's OCI runtime spec (config.json) from its ContainerConfig."""

from __future__ import annotations

import os
import resource
import stat

from pypod.errors import InvalidArgument

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

    from pypod.libpod.container.model import ContainerConfig

    ResolveNs = Callable[[str, str], str]  # (namespace kind, container id) -> /proc/PID/ns/<kind>

OCI_VERSION = "1.0.2-dev"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
]
ALL_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
MASKED_PATHS = [
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
    "/sys/dev/block",
]
READONLY_PATHS = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
INIT_PATH_IN_CONTAINER = "/run/podman-init"
# the `container` variable every container gets (the issue asks for pypod; podman sets "podman")
CONTAINER_ENV = "pypod"
DEFAULT_PIDS_LIMIT = 2048
# runc's default device rules (null, zero, full, tty, random, urandom, ptmx, pts, tun)
_DEFAULT_DEVICE_RULES = [
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"),
    ("c", 1, 8, "rwm"), ("c", 1, 9, "rwm"), ("c", 5, 2, "rwm"), ("c", 136, None, "rwm"),
    ("c", 10, 200, "rwm"),
]
_RLIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
_UNLIMITED = 2**64 - 1  # RLIM_INFINITY as the OCI spec writes it


class GeneratedFiles:
    """Host paths of the files bind-mounted into the container ("" = do not mount).

    A plain class with dataclass-like init/eq/repr (no dataclass to build on every start).
    """

    __slots__ = ("hosts", "resolv_conf", "hostname", "containerenv", "shm")

    def __init__(
        self, hosts: str = "", resolv_conf: str = "", hostname: str = "", containerenv: str = "", shm: str = ""
    ) -> None:
        self.hosts = hosts
        self.resolv_conf = resolv_conf
        self.hostname = hostname
        self.containerenv = containerenv
        self.shm = shm

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"GeneratedFiles({inner})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def generate_spec(
    cfg: ContainerConfig,
    image_config: dict[str, Any],
    rootfs: str,
    files: GeneratedFiles,
    engine: Any,
    *,
    resolve_ns: ResolveNs | None = None,
    netns_path: str = "",
) -> dict[str, Any]:
    """The OCI runtime spec (runtime-spec v1.0.2) for this container.

    `image_config` is the image's ``config`` section (Env, Cmd, Entrypoint,
    User, WorkingDir...), or the whole OCI image config.  `netns_path` is a
    network namespace prepared by the network layer (bridge networks).
    """
    img = image_config.get("config", image_config) if "config" in image_config else image_config
    img = img or {}
    caps = capabilities(cfg, engine)
    uid, gid, gids, username = resolve_user(rootfs, cfg.user or img.get("User", "") or "", cfg.group_add)
    args = process_args(cfg, img, engine)
    hostname = cfg.hostname or cfg.id[:12]

    process: dict[str, Any] = {
        "terminal": bool(cfg.tty),
        "user": {"uid": uid, "gid": gid, "umask": int(cfg.umask or "0022", 8), "additionalGids": gids},
        "args": args,
        "env": environment(cfg, img, hostname),
        "cwd": cfg.workdir or img.get("WorkingDir") or "/",
        "capabilities": {
            "bounding": list(caps), "effective": list(caps), "permitted": list(caps),
            "inheritable": [], "ambient": [],
        },
        "rlimits": rlimits(cfg, engine),
        "noNewPrivileges": bool(cfg.no_new_privileges),
    }
    if username:
        process["user"]["username"] = username

    linux: dict[str, Any] = {
        "namespaces": namespaces(cfg, resolve_ns, netns_path),
        "resources": resources(cfg, engine),
        "cgroupsPath": f"{cfg.cgroup_parent or '/libpod_parent'}/libpod-{cfg.id}",
    }
    if cfg.sysctls:
        linux["sysctl"] = dict(cfg.sysctls)
    devices = device_entries(cfg)
    if devices:
        linux["devices"] = devices
    if not cfg.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        from pypod.libpod import seccomp

        profile = seccomp.seccomp_for(cfg.seccomp_profile, caps, getattr(engine, "seccomp_profile", ""))
        if profile is not None:
            linux["seccomp"] = profile

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(cfg.read_only)},
        "mounts": mounts(cfg, files, engine),
        "annotations": annotations(cfg),
        "linux": linux,
    }
    if (cfg.uts_mode or "private") == "private":  # only a new UTS namespace gets a hostname set
        spec["hostname"] = hostname
    return spec


# --- process -----------------------------------------------------------------
def process_args(cfg: ContainerConfig, img: dict[str, Any], engine: Any = None) -> list[str]:
    """Entrypoint + command with docker's rules; `--init` prepends catatonit."""
    user_ep = cfg.entrypoint
    entrypoint = list(user_ep) if user_ep is not None else list(img.get("Entrypoint") or [])
    args: list[str] = [] if entrypoint == [""] or not entrypoint else entrypoint
    command = list(cfg.command or [])
    if not command and user_ep is None:
        command = list(img.get("Cmd") or [])
    args += command
    if not args:
        raise InvalidArgument("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")
    if cfg.init:
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
    return args


def environment(cfg: ContainerConfig, img: dict[str, Any], hostname: str) -> list[str]:
    """Image Env, then the user's, with PATH, TERM (tty), container and HOSTNAME defaults."""
    env: dict[str, str] = {"PATH": DEFAULT_PATH}
    if cfg.tty:
        env["TERM"] = "xterm"
    env["container"] = CONTAINER_ENV
    for item in img.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    env.update(cfg.env)
    env.setdefault("HOSTNAME", hostname)
    return [f"{k}={v}" for k, v in env.items()]


def _read_db(rootfs: str, name: str) -> list[list[str]]:
    """Lines of the rootfs's etc/passwd or etc/group, split on ':' (symlinks stay inside)."""
    path = _inside(rootfs, f"/etc/{name}")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n").split(":") for line in fh if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def _inside(rootfs: str, path: str) -> str:
    """Resolve `path` within `rootfs`, treating absolute symlinks as relative to it."""
    from collections import deque

    parts = deque(path.split("/"))
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(rootfs, *resolved, part)
        if os.path.islink(candidate) and hops < 40:
            hops += 1
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts.extendleft(reversed(target.split("/")))
            continue
        resolved.append(part)
    return os.path.join(rootfs, *resolved)


def resolve_user(rootfs: str, user: str, group_add: list[str] | None = None) -> tuple[int, int, list[int], str]:
    """`--user` (name|uid[:group|gid]) → (uid, gid, additional gids, user name)."""
    name_part, _, group_part = (user or "").partition(":")
    passwd = _read_db(rootfs, "passwd")
    groups = _read_db(rootfs, "group")
    username = ""
    if not name_part:
        uid, gid = 0, 0
        entry = next((e for e in passwd if len(e) > 3 and e[2] == "0"), None)
        username = entry[0] if entry else ""
    elif name_part.isdecimal():
        uid = int(name_part)
        entry = next((e for e in passwd if len(e) > 3 and e[2] == name_part), None)
        gid = _int(entry[3]) if entry else 0
        username = entry[0] if entry else ""
    else:
        entry = next((e for e in passwd if e and e[0] == name_part and len(e) > 3), None)
        if entry is None:
            raise InvalidArgument(f"unable to find user {name_part}: no matching entries in passwd file")
        uid, gid, username = _int(entry[2]), _int(entry[3]), name_part
    if group_part:
        gid = _group_id(groups, group_part)
    extra: list[int] = [gid]
    if username and not group_part:
        for g in groups:
            if len(g) > 3 and username in g[3].split(","):
                extra.append(_int(g[2]))
    for g in group_add or []:
        if g == "keep-groups":
            continue
        extra.append(_group_id(groups, g))
    return uid, gid, list(dict.fromkeys(extra)), username


def add_user_entries(rootfs: str, user: str, workdir: str = "") -> None:
    """A numeric --user missing from the image gets passwd/group lines in the rootfs, as podman writes them."""
    name_part, _, group_part = (user or "").partition(":")
    if name_part.isdecimal() and not any(len(e) > 2 and e[2] == name_part for e in _read_db(rootfs, "passwd")):
        gid = 0
        if group_part:
            try:
                gid = _group_id(_read_db(rootfs, "group"), group_part)
            except InvalidArgument:
                gid = 0
        _append_line(rootfs, "passwd", f"{name_part}:*:{name_part}:{gid}:container user:{workdir or '/'}:/bin/sh")
    group = group_part or name_part
    if group.isdecimal() and not any(len(g) > 2 and g[2] == group for g in _read_db(rootfs, "group")):
        _append_line(rootfs, "group", f"{group}:x:{group}:{name_part}")


def _append_line(rootfs: str, name: str, line: str) -> None:
    path = _inside(rootfs, f"/etc/{name}")
    if not os.path.isfile(path) or os.path.islink(path):
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        fh.write((b"" if not data or data.endswith(b"\n") else b"\n") + line.encode() + b"\n")


def _group_id(groups: list[list[str]], group: str) -> int:
    if group.isdecimal():
        return int(group)
    for g in groups:
        if g and g[0] == group and len(g) > 2:
            return _int(g[2])
    raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def capabilities(cfg: ContainerConfig, engine: Any) -> list[str]:
    """Engine defaults ± --cap-add/--cap-drop; "ALL"; privileged = every capability."""
    known = _known_caps()
    if cfg.privileged:
        return known
    base = [_norm_cap(c) for c in (getattr(engine, "default_capabilities", None) or DEFAULT_CAPS)]
    add = [_norm_cap(c) for c in cfg.cap_add]
    drop = [_norm_cap(c) for c in cfg.cap_drop]
    for cap in add + drop:
        if cap != "CAP_ALL" and cap not in ALL_CAPS:
            raise InvalidArgument(f"unknown capability {cap!r}")
    caps = [] if "CAP_ALL" in drop else [c for c in base if c not in drop]
    if "CAP_ALL" in add:
        caps = [c for c in known if c not in drop]
    else:
        caps += [c for c in add if c not in caps]
    return [c for c in caps if c in known]


def _norm_cap(cap: str) -> str:
    cap = cap.strip().upper()
    return cap if cap.startswith("CAP_") else "CAP_" + cap


def _known_caps() -> list[str]:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fh:
            last = int(fh.read())
    except (OSError, ValueError):
        last = 40
    bounding = _bounding_set()
    return [c for i, c in enumerate(ALL_CAPS[: last + 1]) if bounding >> i & 1]


def _bounding_set() -> int:
    """Our own capability bounding set: a container cannot be given more (as podman does)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return -1


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """"nofile=1024:2048" → ("RLIMIT_NOFILE", 1024, 2048); -1/unlimited = infinity."""
    name, sep, values = text.partition("=")
    key = _RLIMITS.get(name.strip().lower())
    if not sep or key is None:
        raise InvalidArgument(f"invalid ulimit {text!r}")
    soft_s, _, hard_s = values.partition(":")
    soft = _limit_value(soft_s, text)
    hard = _limit_value(hard_s, text) if hard_s else soft
    if soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return key, soft, hard


def _limit_value(text: str, whole: str) -> int:
    text = text.strip()
    if text in ("-1", "unlimited"):
        return _UNLIMITED
    try:
        value = int(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid ulimit {whole!r}") from exc
    if value < 0:
        raise InvalidArgument(f"invalid ulimit {whole!r}")
    return value


def _host_hard(key: str) -> int:
    _soft, hard = resource.getrlimit(getattr(resource, key))
    return _UNLIMITED if hard == resource.RLIM_INFINITY else hard


def rlimits(cfg: ContainerConfig, engine: Any) -> list[dict[str, Any]]:
    """Engine default_ulimits then --ulimit, never above this host's hard limits."""
    chosen: dict[str, tuple[int, int]] = {
        "RLIMIT_NOFILE": (1048576, 1048576),
        "RLIMIT_NPROC": (4194304, 4194304),
    }
    for text in list(getattr(engine, "default_ulimits", None) or []) + list(cfg.ulimits):
        key, soft, hard = parse_ulimit(text)
        chosen[key] = (soft, hard)
    out = []
    for key, (soft, hard) in chosen.items():
        cap = _host_hard(key)
        out.append({"type": key, "soft": min(soft, cap), "hard": min(hard, cap)})
    return out


# --- namespaces, resources, devices -------------------------------------------
def _is_host(mode: str) -> bool:
    return mode == "host"


def namespaces(cfg: ContainerConfig, resolve_ns: ResolveNs | None, netns_path: str = "") -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    modes = [("pid", cfg.pid_mode), ("network", cfg.network_mode), ("ipc", cfg.ipc_mode), ("uts", cfg.uts_mode)]
    out.append({"type": "mount"})
    for kind, mode in modes:
        mode = mode or ""
        if mode == "host":
            continue
        entry = {"type": kind}
        if mode.startswith("container:"):
            if resolve_ns is None:
                raise InvalidArgument(f"cannot join the {kind} namespace of {mode[10:]}: no resolver")
            entry["path"] = resolve_ns(kind, mode[len("container:"):])
        elif mode.startswith("ns:"):
            entry["path"] = mode[3:]
        elif kind == "network" and netns_path:
            entry["path"] = netns_path
        out.append(entry)
    return out


def resources(cfg: ContainerConfig, engine: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if cfg.privileged:
        res["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
        for typ, major, minor, access in _DEFAULT_DEVICE_RULES:
            rule: dict[str, Any] = {"allow": True, "type": typ, "access": access}
            if major is not None:
                rule["major"] = major
            if minor is not None:
                rule["minor"] = minor
            rules.append(rule)
        for dev, access in _parse_devices(cfg):
            rules.append({"allow": True, "type": dev["type"], "major": dev["major"],
                          "minor": dev["minor"], "access": access})
        res["devices"] = rules
    memory: dict[str, int] = {}
    if cfg.memory > 0:
        memory["limit"] = cfg.memory
        if cfg.memory_swap:
            memory["swap"] = cfg.memory_swap
        else:
            memory["swap"] = 2 * cfg.memory
    if memory:
        res["memory"] = memory
    cpu: dict[str, int] = {}
    if cfg.cpus > 0:
        cpu["period"] = 100000
        cpu["quota"] = int(cfg.cpus * 100000)
    if cfg.cpu_shares > 0:
        cpu["shares"] = cfg.cpu_shares
    if cpu:
        res["cpu"] = cpu
    limit = cfg.pids_limit or int(getattr(engine, "pids_limit", 0) or DEFAULT_PIDS_LIMIT)
    if limit > 0:
        res["pids"] = {"limit": limit}
    return res


def device_entries(cfg: ContainerConfig) -> list[dict[str, Any]]:
    """`--device HOST[:CONTAINER[:PERMS]]` → linux.devices entries."""
    return [dev for dev, _access in _parse_devices(cfg)]


def _parse_devices(cfg: ContainerConfig) -> list[tuple[dict[str, Any], str]]:
    out = []
    for text in cfg.devices:
        parts = text.split(":")
        host = parts[0]
        target = parts[1] if len(parts) > 1 and parts[1].startswith("/") else host
        perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
        if not perms or any(c not in "rwm" for c in perms):
            raise InvalidArgument(f"invalid device mode: {perms}")
        try:
            st = os.stat(host)
        except OSError as exc:
            raise InvalidArgument(f"stat {host}: no such file or directory") from exc
        if stat.S_ISCHR(st.st_mode):
            typ = "c"
        elif stat.S_ISBLK(st.st_mode):
            typ = "b"
        else:
            raise InvalidArgument(f"{host} is not a device")
        out.append(({
            "path": target, "type": typ, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": 0, "gid": 0,
        }, perms))
    return out


# --- mounts ----------------------------------------------------------------
def _bind_options(options: list[str]) -> list[str]:
    opts = [o for o in options if o not in ("z", "Z", "U", "O", "idmap", "")]
    if not any(o in ("bind", "rbind") for o in opts):
        opts.insert(0, "rbind")
    if not any(o in ("private", "rprivate", "shared", "rshared", "slave", "rslave") for o in opts):
        opts.append("rprivate")
    return opts


def _tmpfs_options(text: str) -> list[str]:
    opts = {"rw": "rw", "exec": "noexec", "suid": "nosuid", "dev": "nodev"}
    flags = dict(opts)
    extra: list[str] = []
    for opt in [o.strip() for o in text.split(",") if o.strip()]:
        bare = opt[2:] if opt.startswith("no") and opt[2:] in opts else opt
        if bare in opts:
            flags[bare] = opt
        elif opt == "ro":
            flags["rw"] = "ro"
        else:
            extra.append(opt)
    return list(flags.values()) + extra


def mounts(cfg: ContainerConfig, files: GeneratedFiles, engine: Any) -> list[dict[str, Any]]:
    user: list[dict[str, Any]] = []
    for b in cfg.binds:
        user.append({"destination": b["destination"], "type": "bind", "source": b["source"],
                     "options": _bind_options(list(b.get("options") or []))})
    for v in cfg.volumes:
        if not v.get("source"):
            raise InvalidArgument(f"volume {v.get('name', '')!r} has no resolved source path")
        user.append({"destination": v["destination"], "type": "bind", "source": v["source"],
                     "options": _bind_options(list(v.get("options") or []))})
    for dest, opts in cfg.tmpfs.items():
        user.append({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": _tmpfs_options(opts)})
    user += [dict(m) for m in cfg.mounts_extra]
    taken = {m["destination"].rstrip("/") or "/" for m in user}

    ro = "rw" if cfg.privileged else "ro"
    base: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", ro]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", ro]},
    ]
    if cfg.read_only and cfg.read_only_tmpfs:
        for dest in ("/tmp", "/var/tmp", "/run"):
            base.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                         "options": ["rw", "rprivate", "nosuid", "nodev"]})
    if files.shm:
        base.append({"destination": "/dev/shm", "type": "bind", "source": files.shm,
                     "options": ["bind", "private", "nosuid", "noexec", "nodev"]})
    else:
        base.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                     "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={cfg.shm_size or 65536000}"]})
    generated = [
        ("/etc/hostname", files.hostname), ("/etc/hosts", files.hosts),
        ("/etc/resolv.conf", files.resolv_conf), ("/run/.containerenv", files.containerenv),
    ]
    for dest, source in generated:
        if source:
            base.append({"destination": dest, "type": "bind", "source": source, "options": ["bind", "rprivate"]})
    if cfg.init:
        init_path = getattr(engine, "init_path", "") or "/usr/bin/catatonit"
        base.append({"destination": INIT_PATH_IN_CONTAINER, "type": "bind", "source": init_path,
                     "options": ["bind", "private", "ro"]})
    return [m for m in base if m["destination"] not in taken] + user


def annotations(cfg: ContainerConfig) -> dict[str, str]:
    out = {"io.container.manager": "libpod", "org.opencontainers.image.stopSignal": str(cfg.stop_signal)}
    if cfg.init:
        out["io.podman.annotations.init"] = "TRUE"
    if cfg.privileged:
        out["io.podman.annotations.privileged"] = "TRUE"
    if cfg.auto_remove:
        out["io.podman.annotations.autoremove"] = "TRUE"
    out.update(cfg.annotations)
    return out
