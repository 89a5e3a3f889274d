"""`container inspect` data: podman's key names and key order, from config + state (no runtime call)."""

from __future__ import annotations

import os
import signal as _signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.container import Container
    from pypod.libpod.runtime import Runtime

ZERO_TIME = "0001-01-01T00:00:00Z"
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
]  # fmt: skip
ALL_CAPS = sorted(
    DEFAULT_CAPS
    + ["CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW", "CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_BLOCK_SUSPEND",
       "CAP_BPF", "CAP_CHECKPOINT_RESTORE", "CAP_DAC_READ_SEARCH", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_LEASE",
       "CAP_LINUX_IMMUTABLE", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_NET_ADMIN", "CAP_NET_BROADCAST",
       "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_MODULE", "CAP_SYS_NICE", "CAP_SYS_PACCT",
       "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
       "CAP_SYSLOG", "CAP_WAKE_ALARM"]  # fmt: skip
)


class GoStruct(dict):
    """A dict standing for a Go struct: Go templates print it as ``{value value}`` (field order)."""

    go_kind = "struct"


class NilMap(dict):
    """An empty map that Go holds as nil: JSON ``null``, printed ``map[]`` by templates."""

    go_kind = "nilmap"


# podman compares a container's capabilities with this fixed set to report CapAdd/CapDrop
REFERENCE_CAPS = sorted(DEFAULT_CAPS + ["CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"])


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def _capabilities(cfg: Any, defaults: list[str]) -> list[str]:
    if cfg.privileged:
        return list(ALL_CAPS)
    caps = {_cap(c) for c in (defaults or DEFAULT_CAPS)}
    adds = [_cap(c) for c in cfg.cap_add]
    drops = [_cap(c) for c in cfg.cap_drop]
    if "CAP_ALL" in adds:
        caps = set(ALL_CAPS)
    if "CAP_ALL" in drops:
        caps = set()
    caps |= {c for c in adds if c != "CAP_ALL"}
    caps -= set(drops)
    return sorted(caps)


def _path(obj: Any, attr: str, fallback: str = "") -> str:
    try:
        return str(getattr(obj, attr))
    except Exception:  # noqa: BLE001 - older Container objects may miss a property
        return fallback


class _ImageRecord:
    """What inspect shows of the container's image (digest, layer IDs; no size)."""

    def __init__(self, digest: str, layers: list[str]) -> None:
        self.digest, self.layers, self.size = digest, layers, 0


def _read_image(storage_root: str, image_id: str) -> tuple[dict[str, Any], Any]:
    """The image's config and record read straight from ``overlay-images`` (as ImageStore
    stores them: images.json is replaced atomically, so no lock) without importing the image
    store, the layer store or hashlib: ``inspect`` of a container needs nothing else."""
    import json

    image_dir = os.path.join(os.path.abspath(storage_root), "overlay-images")
    with open(os.path.join(image_dir, "images.json"), "rb") as f:
        records = json.load(f)
    for record in records:
        if record["id"] == image_id:
            with open(os.path.join(image_dir, image_id, "config"), "rb") as f:
                config = json.load(f)
            return config, _ImageRecord(record.get("digest", ""), list(record.get("layers") or []))
    raise LookupError(image_id)


def _image_config(rt: Any, cfg: Any, size: bool = False) -> tuple[dict[str, Any], Any]:
    if not cfg.image_id:
        return {}, None
    try:
        if size:  # the image's size comes from the layer store
            img = rt.images.get(cfg.image_id)
            config = img.config
        else:
            config, img = _read_image(rt.config.storage_root, cfg.image_id.removeprefix("sha256:"))
    except Exception:  # noqa: BLE001 - the image may be gone (podman still inspects)
        return {}, None
    return ((config or {}).get("config") or {}), img


def _ulimits(cfg: Any, engine: Any) -> list[dict[str, Any]]:
    merged: dict[str, str] = {}
    for item in list(getattr(engine, "default_ulimits", []) or []) + list(cfg.ulimits):
        name, _eq, limits = item.partition("=")
        merged[name] = limits
    out = []
    for name, limits in merged.items():
        soft, _c, hard = limits.partition(":")
        try:
            out.append({"Name": "RLIMIT_" + name.upper(), "Soft": int(soft), "Hard": int(hard or soft)})
        except ValueError:
            continue
    return out


def _mounts(rt: Any, cfg: Any) -> list[dict[str, Any]]:
    out = []
    for b in cfg.binds:
        opts = list(b.get("options") or [])
        out.append({"Type": "bind", "Source": b["source"], "Destination": b["destination"], "Driver": "",
                    "Mode": "", "Options": [o for o in opts if o not in ("ro", "rw")] or ["rbind"],
                    "RW": "ro" not in opts, "Propagation": "rprivate"})  # fmt: skip
    for v in cfg.volumes:
        opts = list(v.get("options") or [])
        source = ""
        try:
            source = rt.volumes.mountpoint(v.get("name", "")) if v.get("name") else ""
        except Exception:  # noqa: BLE001 - inspect must not fail on a missing volume
            source = ""
        out.append({"Type": "volume", "Name": v.get("name", ""), "Source": source, "Destination": v["destination"],
                    "Driver": "local", "Mode": "", "Options": [o for o in opts if o not in ("ro", "rw")] or ["nosuid", "nodev", "rbind"],
                    "RW": "ro" not in opts, "Propagation": "rprivate"})  # fmt: skip
    return out


def _port_bindings(cfg: Any, st: Any = None) -> dict[str, Any]:
    from pypod.libpod.network.ports import published_ports

    out: dict[str, Any] = {}
    for p in published_ports(cfg, st) if st is not None else cfg.ports:
        count = int(p.get("range") or 1)
        for i in range(count):
            key = f"{int(p['container_port']) + i}/{p.get('protocol', 'tcp')}"
            host = int(p.get("host_port") or 0)
            out.setdefault(key, []).append(
                GoStruct(HostIp=p.get("host_ip", ""), HostPort=str(host + i) if host else "")
            )
    for e in cfg.expose:
        out.setdefault(e, None)
    return out


def _network_names(cfg: Any) -> list[str]:
    mode = cfg.network_mode or ""
    if mode in ("none", "host", "slirp4netns", "pasta") or mode.startswith(("container:", "ns:")):
        return []
    from pypod.libpod.network.lifecycle import container_networks

    return container_networks(cfg)


def _network_settings(cfg: Any, st: Any) -> dict[str, Any]:
    net = dict(st.network_status or {})
    first = next(iter(net.values()), {}) if net else {}
    settings: dict[str, Any] = {
        "EndpointID": "", "Gateway": first.get("gateway", ""), "IPAddress": first.get("ip_address", ""),
        "IPPrefixLen": first.get("prefix_len", 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "MacAddress": first.get("mac_address", ""), "Bridge": "", "SandboxID": "",
        "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "Ports": _port_bindings(cfg, st), "SandboxKey": st.net_ns or "",
    }  # fmt: skip
    names = _network_names(cfg)
    if names:
        settings["Networks"] = {
            name: {"EndpointID": "", "Gateway": net.get(name, {}).get("gateway", ""),
                   "IPAddress": net.get(name, {}).get("ip_address", ""),
                   "IPPrefixLen": net.get(name, {}).get("prefix_len", 0),
                   "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                   "MacAddress": net.get(name, {}).get("mac_address", ""),
                   "NetworkID": net.get(name, {}).get("network_id", name), "DriverOpts": None,
                   "IPAMConfig": None, "Links": None,
                   "Aliases": list(net.get(name, {}).get("aliases") or cfg.network_aliases.get(name, []))}
            for name in names
        }  # fmt: skip
    return settings


def _health(cfg: Any) -> dict[str, Any] | None:
    hc = cfg.healthcheck
    if hc is None or hc.test == ["NONE"]:
        return None
    return {"Test": list(hc.test), "StartPeriod": int(hc.start_period * 1e9), "Interval": int(hc.interval * 1e9),
            "Timeout": int(hc.timeout * 1e9), "Retries": hc.retries}  # fmt: skip


def _ns_mode(value: str, default: str = "private") -> str:
    return value or default


def inspect_container(rt: "Runtime", ctr: "Container", size: bool = False) -> dict[str, Any]:
    """The dict `podman container inspect` prints for one container."""
    cfg, st = ctr.config, ctr.state
    icfg, img = _image_config(rt, cfg, size)
    engine = getattr(rt, "config", None)
    entry = cfg.entrypoint if cfg.entrypoint is not None else list(icfg.get("Entrypoint") or [])
    if cfg.command is not None:
        cmd = list(cfg.command)
    elif cfg.entrypoint is not None:
        cmd = []
    else:
        cmd = list(icfg.get("Cmd") or [])
    argv = list(entry) + list(cmd)
    env = dict(p.partition("=")[::2] for p in (icfg.get("Env") or []))
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env.setdefault("TERM", "xterm")
    from pypod.libpod.spec import CONTAINER_ENV

    env["container"] = CONTAINER_ENV  # what the process really gets (spec.py)
    env.update(cfg.env)
    user = (cfg.user or icfg.get("User") or "").partition(":")[0]
    if user in ("", "root", "0"):
        env.setdefault("HOME", "/root")  # podman lists HOME when the user has a passwd entry
    env.setdefault("HOSTNAME", cfg.hostname or ctr.id[:12])
    status = st.status
    from pypod.libpod.container.model import ContainerStatus

    display = ContainerStatus.display(status)
    if display == "stopped":
        display = "exited"
    run_dir = _path(ctr, "run_dir")
    static_dir = _path(ctr, "static_dir")
    bundle = _path(ctr, "bundle_path", static_dir)
    defaults = list(getattr(engine, "default_capabilities", []) or [])
    caps = _capabilities(cfg, defaults)
    driver = getattr(engine, "storage_driver", "overlay") or "overlay"
    store = None
    try:
        # the layer store only for --size; the overlay paths are plain strings
        store = rt.store if size else _StorePaths(rt.config.storage_root)
    except Exception:  # noqa: BLE001 - inspect works without storage
        pass
    graph_data = _graph_data(store, img, cfg, st, driver, status)
    restart = cfg.restart_policy if cfg.restart_policy != "no" else "no"
    data: dict[str, Any] = {
        "Id": ctr.id,
        "Created": cfg.created,
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": {
            "OciVersion": "1.0.2",
            "Status": display,
            "Running": status == "running",
            "Paused": status == "paused",
            "Restarting": False,
            "OOMKilled": st.oom_killed,
            "Dead": False,
            "Pid": st.pid if status in ("running", "paused") else 0,
            "ConmonPid": st.conmon_pid if status in ("running", "paused", "created", "stopping") else 0,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": st.started_at or ZERO_TIME,
            "FinishedAt": st.finished_at or ZERO_TIME,
            "Health": {"Status": st.health_status, "FailingStreak": st.health_failing_streak,
                       "Log": list(st.health_log) or None},  # fmt: skip
            "CgroupPath": f"{cfg.cgroup_parent or '/libpod_parent'}/libpod-{ctr.id}",
            "CheckpointedAt": ZERO_TIME,
            "RestoredAt": ZERO_TIME,
        },
        "Image": cfg.image_id,
        "ImageDigest": getattr(img, "digest", "") or "",
        "ImageName": cfg.image_name or cfg.raw_image_name,
        "Rootfs": cfg.rootfs,
        "Pod": cfg.pod_id,
        "ResolvConfPath": os.path.join(run_dir, "resolv.conf") if run_dir and cfg.network_mode not in ("none",) else "",
        "HostnamePath": os.path.join(run_dir, "hostname") if run_dir else "",
        "HostsPath": os.path.join(run_dir, "hosts") if run_dir else "",
        "StaticDir": static_dir,
        "OCIConfigPath": os.path.join(bundle, "config.json") if bundle else "",
        "OCIRuntime": cfg.oci_runtime or getattr(engine, "runtime", "runc"),
        "ConmonPidFile": os.path.join(run_dir, "conmon.pid") if run_dir else "",
        "PidFile": os.path.join(run_dir, "pidfile") if run_dir else "",
        "Name": ctr.name,
        "RestartCount": st.restart_count,
        "Driver": driver,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "EffectiveCaps": caps,
        "BoundingCaps": caps,
        "ExecIDs": list(st.exec_ids),
        "GraphDriver": {"Name": driver, "Data": graph_data},
        "Mounts": _mounts(rt, cfg),
        "Dependencies": list(cfg.requires),
        "NetworkSettings": _network_settings(cfg, st),
        "Namespace": "",
        "IsInfra": cfg.is_infra,
        "IsService": False,
        "Config": {
            "Hostname": cfg.hostname or ctr.id[:12],
            "Domainname": "",
            "User": cfg.user or icfg.get("User", ""),
            "AttachStdin": cfg.stdin,
            "AttachStdout": False,
            "AttachStderr": False,
            "Tty": cfg.tty,
            "OpenStdin": cfg.stdin,
            "StdinOnce": False,
            "Env": [f"{k}={v}" for k, v in env.items()],
            "Cmd": cmd or None,
            "Image": cfg.image_name or cfg.raw_image_name,
            "Volumes": {v["destination"]: {} for v in cfg.volumes} or None,
            "WorkingDir": cfg.workdir or icfg.get("WorkingDir") or "/",
            "Entrypoint": " ".join(entry),
            "OnBuild": None,
            "Labels": dict(sorted(cfg.labels.items())) or NilMap(),
            "Annotations": _annotations(cfg),
            "StopSignal": cfg.stop_signal,
            "HealthcheckOnFailureAction": cfg.healthcheck.on_failure if cfg.healthcheck else "none",
            "CreateCommand": list(cfg.create_command) or None,
            "Umask": cfg.umask,
            "Timeout": 0,
            "StopTimeout": cfg.stop_timeout,
            "Passwd": True,
            "sdNotifyMode": "container",
        },
        "HostConfig": {
            "Binds": [f"{b['source']}:{b['destination']}:{','.join(b.get('options') or ['rw', 'rprivate', 'rbind'])}" for b in cfg.binds]
            + [f"{v.get('name', '')}:{v['destination']}:{','.join(v.get('options') or ['rw', 'rprivate', 'nosuid', 'nodev', 'rbind'])}" for v in cfg.volumes],
            "CgroupManager": getattr(engine, "cgroup_manager", "cgroupfs"),
            "CgroupMode": "host",
            "ContainerIDFile": "",
            "LogConfig": {"Type": cfg.log_driver, "Config": None, "Path": _path(ctr, "log_path", cfg.log_path),
                          "Tag": cfg.log_tag, "Size": "0B"},  # fmt: skip
            "NetworkMode": cfg.network_mode if not cfg.networks else "bridge",
            "PortBindings": _port_bindings(cfg),
            "RestartPolicy": GoStruct(Name=restart, MaximumRetryCount=cfg.restart_retries),
            "AutoRemove": cfg.auto_remove,
            "VolumeDriver": "",
            "VolumesFrom": None,
            "CapAdd": sorted(set(caps) - set(REFERENCE_CAPS)),
            "CapDrop": sorted(set(REFERENCE_CAPS) - set(caps)),
            "Dns": list(cfg.dns_servers),
            "DnsOptions": list(cfg.dns_options),
            "DnsSearch": list(cfg.dns_search),
            "ExtraHosts": list(cfg.add_hosts),
            "GroupAdd": list(cfg.group_add),
            "IpcMode": _ns_mode(cfg.ipc_mode, "shareable"),
            "Cgroup": "",
            "Cgroups": "default",
            "Links": None,
            "OomScoreAdj": 0,
            "PidMode": _ns_mode(cfg.pid_mode),
            "Privileged": cfg.privileged,
            "PublishAllPorts": cfg.labels.get("io.pypod.publish-all") == "true",
            "ReadonlyRootfs": cfg.read_only,
            "SecurityOpt": (["no-new-privileges"] if cfg.no_new_privileges else [])
            + ([f"seccomp={cfg.seccomp_profile}"] if cfg.seccomp_profile else []),
            "Tmpfs": dict(cfg.tmpfs),
            "UTSMode": _ns_mode(cfg.uts_mode),
            "UsernsMode": "",
            "ShmSize": cfg.shm_size,
            "Runtime": "oci",
            "ConsoleSize": [0, 0],
            "Isolation": "",
            "CpuShares": cfg.cpu_shares,
            "Memory": cfg.memory,
            "NanoCpus": int(round(cfg.cpus * 1e9)),
            "CgroupParent": cfg.cgroup_parent,
            "BlkioWeight": 0,
            "BlkioWeightDevice": None,
            "BlkioDeviceReadBps": None,
            "BlkioDeviceWriteBps": None,
            "BlkioDeviceReadIOps": None,
            "BlkioDeviceWriteIOps": None,
            "CpuPeriod": 100000 if cfg.cpus else 0,
            "CpuQuota": int(cfg.cpus * 100000) if cfg.cpus else 0,
            "CpuRealtimePeriod": 0,
            "CpuRealtimeRuntime": 0,
            "CpusetCpus": "",
            "CpusetMems": "",
            "Devices": [_device(d) for d in cfg.devices],
            "DiskQuota": 0,
            "KernelMemory": 0,
            "MemoryReservation": 0,
            "MemorySwap": cfg.memory_swap,
            "MemorySwappiness": 0,
            "OomKillDisable": False,
            "PidsLimit": 2048 if cfg.pids_limit == 0 else max(cfg.pids_limit, 0),
            "Ulimits": _ulimits(cfg, engine),
            "CpuCount": 0,
            "CpuPercent": 0,
            "IOMaximumIOps": 0,
            "IOMaximumBandwidth": 0,
            "CgroupConf": None,
        },
    }
    state = data["State"]
    if status not in ("running", "paused"):
        del state["CgroupPath"]  # podman shows it only while the container has a cgroup
    if not state["ConmonPid"]:
        del state["ConmonPid"]  # omitted when empty, like podman
    health = _health(cfg)
    if health is not None:
        data["Config"]["Healthcheck"] = health
    if size:
        rw = 0
        try:
            rw = int(store.layer_size(cfg.rootfs_layer)) if store is not None and cfg.rootfs_layer else 0
        except Exception:  # noqa: BLE001 - size is best effort
            rw = 0
        ordered: dict[str, Any] = {}
        for key, value in data.items():
            ordered[key] = value
            if key == "GraphDriver":  # podman puts the sizes right after GraphDriver
                ordered["SizeRw"] = rw
                ordered["SizeRootFs"] = rw + int(getattr(img, "size", 0) or 0)
        data = ordered
    return data


def _annotations(cfg: Any) -> dict[str, str]:
    """The container's annotations plus the ones podman always adds."""
    flag = {True: "TRUE", False: "FALSE"}
    out = {
        "io.container.manager": "libpod",
        "io.kubernetes.cri-o.Created": cfg.created,
        "io.kubernetes.cri-o.TTY": "true" if cfg.tty else "false",
        "io.podman.annotations.autoremove": flag[bool(cfg.auto_remove)],
        "io.podman.annotations.init": flag[bool(cfg.init)],
        "io.podman.annotations.privileged": flag[bool(cfg.privileged)],
        "io.podman.annotations.publish-all": flag[cfg.labels.get("io.pypod.publish-all") == "true"],
        "org.opencontainers.image.stopSignal": str(int(cfg.stop_signal or 15)),
    }
    out.update(cfg.annotations)
    return dict(sorted(out.items()))


class _StorePaths:
    """``Store.driver_dir`` of the overlay driver, without importing the layer store."""

    def __init__(self, storage_root: str) -> None:
        self.driver_dir = os.path.join(os.path.abspath(storage_root), "overlay")


def _graph_data(store: Any, img: Any, cfg: Any, st: Any, driver: str, status: str) -> dict[str, str]:
    """GraphDriver.Data: absolute overlay dirs; MergedDir only while mounted (podman)."""
    if store is None or not cfg.rootfs_layer or driver != "overlay":
        return {}
    base = getattr(store, "driver_dir", "")
    upper = os.path.join(base, cfg.rootfs_layer)
    lower = [os.path.join(base, layer, "diff") for layer in reversed(list(getattr(img, "layers", None) or []))]
    data = {"LowerDir": ":".join(lower)}
    if st.mountpoint or status in ("running", "paused"):
        data["MergedDir"] = st.mountpoint or os.path.join(upper, "merged")
    data.update({"UpperDir": os.path.join(upper, "diff"), "WorkDir": os.path.join(upper, "work")})
    if not data["LowerDir"]:
        del data["LowerDir"]
    return data


def _device(spec: str) -> dict[str, str]:
    parts = spec.split(":")
    host = parts[0]
    ctr_path = parts[1] if len(parts) > 1 and parts[1].startswith("/") else host
    perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
    return {"PathOnHost": host, "PathInContainer": ctr_path, "CgroupPermissions": perms}


def stop_signal_name(number: int) -> str:
    try:
        return _signal.Signals(number).name
    except ValueError:
        return str(number)
