"""`version`, `info` and the `system` commands (df, prune, reset, renumber, migrate)."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any
    from pypod.cli.main import Context

API_VERSION = "4.3.1"  # the podman API level whose behaviour pypod follows


def _print_formatted(data: Any, fmt: str | None) -> None:
    import json

    if not fmt or fmt == "json":
        print(json.dumps(data, indent=4))
        return
    from pypod.cli.gotemplate import render

    out = render(fmt, data)
    print(out if out.endswith("\n") else out + "\n", end="")


# --- version -------------------------------------------------------------------
def version_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="")


def version_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    import platform

    from pypod import __version__

    client = {
        "APIVersion": API_VERSION,
        "Version": __version__,
        "PythonVersion": platform.python_version(),
        "GitCommit": "",
        "BuiltTime": "",
        "Built": 0,
        "OsArch": "linux/amd64" if platform.machine() == "x86_64" else f"linux/{platform.machine()}",
        "Os": "linux",
    }
    if args.format:
        if args.format == "json":
            _print_formatted({"Client": client}, "json")
        else:
            _print_formatted({"Client": client, "Version": __version__}, args.format)
        return 0
    print("Client:         pypod Engine")
    print(f"Version:        {client['Version']}")
    print(f"API Version:    {client['APIVersion']}")
    print(f"Python Version: {client['PythonVersion']}")
    print(f"OS/Arch:        {client['OsArch']}")
    return 0


# --- info ----------------------------------------------------------------------
def info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="")
    p.add_argument("-D", "--debug", action="store_true")


def _command_version(argv: list[str]) -> str:
    import subprocess

    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip()


def info_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    import os
    import platform

    rt = ctx.runtime
    cfg = rt.config
    counts = {"number": 0, "paused": 0, "running": 0, "stopped": 0}
    for ctr in rt.list_containers():
        counts["number"] += 1
        status = ctr.state.status
        if status == "running":
            counts["running"] += 1
        elif status == "paused":
            counts["paused"] += 1
        else:
            counts["stopped"] += 1
    images = rt.images.list()
    mem_total = mem_free = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key == "MemTotal":
                    mem_total = int(rest.split()[0]) * 1024
                elif key == "MemFree":
                    mem_free = int(rest.split()[0]) * 1024
    except OSError:
        pass
    data = {
        "host": {
            "arch": "amd64" if platform.machine() == "x86_64" else platform.machine(),
            "cgroupManager": cfg.cgroup_manager,
            "cgroupVersion": "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1",
            "conmon": {"path": cfg.conmon_path, "version": _command_version([cfg.conmon_path, "--version"])},
            "cpus": os.cpu_count() or 1,
            "eventLogger": cfg.events_logger,
            "hostname": platform.node(),
            "kernel": platform.release(),
            "logDriver": "k8s-file",
            "memFree": mem_free,
            "memTotal": mem_total,
            "networkBackend": "netavark",
            "ociRuntime": {
                "name": cfg.runtime,
                "path": cfg.runtime_path,
                "version": _command_version([cfg.runtime_path, "--version"]),
            },
            "os": "linux",
            "security": {
                "capabilities": ",".join(f"CAP_{c}" for c in cfg.default_capabilities),
                "rootless": os.geteuid() != 0,
                "seccompEnabled": True,
                "seccompProfilePath": cfg.seccomp_profile,
            },
        },
        "store": {
            "containerStore": counts,
            "graphDriverName": cfg.storage_driver,
            "graphRoot": cfg.root,
            "imageStore": {"number": len(images)},
            "runRoot": cfg.runroot,
            "volumePath": cfg.volume_path,
        },
        "version": {"APIVersion": API_VERSION, "Version": _version(), "OsArch": "linux/amd64"},
    }
    if args.format:
        _print_formatted(data if args.format == "json" else _go_field_names(data), args.format)
        return 0
    _print_yaml(data)
    return 0


# Go struct field names of podman's info where they differ from the capitalised JSON key.
_GO_FIELD_NAMES = {
    "cgroupVersion": "CgroupsVersion",
    "cpus": "CPUs",
    "ociRuntime": "OCIRuntime",
    "os": "OS",
    "capabilities": "DefaultCapabilities",
    "seccompEnabled": "SECCOMPEnabled",
    "seccompProfilePath": "SECCOMPProfilePath",
}


def _go_field_names(value: Any) -> Any:
    """Info data with podman's Go field names as keys, for templates (``{{.Store.GraphRoot}}``)."""
    if isinstance(value, dict):
        return {
            _GO_FIELD_NAMES.get(key, key[:1].upper() + key[1:]): _go_field_names(item)
            for key, item in value.items()
        }
    return value


def _version() -> str:
    from pypod import __version__

    return __version__


def _print_yaml(data: Any, indent: int = 0) -> None:
    pad = "  " * indent
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"{pad}{key}:")
            _print_yaml(value, indent + 1)
        elif isinstance(value, str) and "\n" in value:
            print(f"{pad}{key}: |-")
            for line in value.splitlines():
                print(f"{pad}  {line}")
        else:
            text = str(value).lower() if isinstance(value, bool) else value
            print(f"{pad}{key}: {text}")


# --- system df -----------------------------------------------------------------
def df_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="")
    p.add_argument("-v", "--verbose", action="store_true")


def df_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    from pypod.cli.tabwriter import format_table

    size = _go_human_size  # podman's df: "2.131MB", "0B"
    rt = ctx.runtime
    images = rt.images.list()
    containers = rt.list_containers()
    used_images = {c.config.image_id for c in containers}
    img_size = sum(i.size for i in images)
    img_reclaim = sum(i.size for i in images if i.id not in used_images)
    ctr_size = 0
    ctr_reclaim = 0
    for c in containers:
        try:
            n = rt.store.layer_size(c.config.rootfs_layer) if c.config.rootfs_layer else 0
        except Exception:  # noqa: BLE001 - a broken layer must not hide the report
            n = 0
        ctr_size += n
        if c.state.status not in ("running", "paused"):
            ctr_reclaim += n
    vols = rt.volumes.list()
    vol_size = 0
    for v in vols:
        vol_size += _dir_size(v.mountpoint)
    rows = [
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        ["Images", str(len(images)), str(len(used_images & {i.id for i in images})), size(img_size),
         f"{size(img_reclaim)} ({_pct(img_reclaim, img_size)}%)"],
        ["Containers", str(len(containers)),
         str(sum(1 for c in containers if c.state.status in ("running", "paused"))), size(ctr_size),
         f"{size(ctr_reclaim)} ({_pct(ctr_reclaim, ctr_size)}%)"],
        ["Local Volumes", str(len(vols)), "0", size(vol_size), f"{size(vol_size)} ({_pct(vol_size, vol_size)}%)"],
    ]
    if args.format:
        from pypod.cli.gotemplate import render_rows

        keys = ["Type", "Total", "Active", "Size", "Reclaimable"]
        data = [dict(zip(keys, r)) for r in rows[1:]]
        print(render_rows(args.format, data, {k: k.upper() for k in keys}), end="")
        return 0
    print(format_table(rows), end="")
    return 0


def _pct(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def _dir_size(path: str) -> int:
    from pypod.libpod.osutil import tree_size

    return tree_size(path)


# --- system prune / reset --------------------------------------------------------
def prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--volumes", action="store_true")
    p.add_argument("--filter", action="append", default=[])


def prune_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    from pypod.libpod import prune

    if not args.force and sys.stdin.isatty():
        answer = input("WARNING! This command removes all stopped containers and unused images.\n"
                       "Are you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    root = ctx.runtime.config.root
    before = _dir_size(root)
    report = prune.system_prune(ctx.runtime, all_images=args.all, volumes=args.volumes)
    order = {"Containers": 0, "Pods": 1, "Volumes": 2, "Images": 3}
    for title, ids in sorted(report, key=lambda section: order.get(section[0], len(order))):
        if not ids:  # podman prints a section only when something was deleted
            continue
        print(f"Deleted {title}")
        for i in ids:
            print(i)
    print(f"Total reclaimed space: {_go_human_size(max(0, before - _dir_size(root)))}")
    return 0


def _go_human_size(n: int) -> str:
    """go-units HumanSize: 4 significant digits, no space ("0B", "2.131MB")."""
    from pypod.cli.humanize import _DECIMAL_UNITS, _go_g

    value, i = float(n), 0
    while value >= 1000 and i < len(_DECIMAL_UNITS) - 1:
        value /= 1000
        i += 1
    return f"{_go_g(value, 4)}{_DECIMAL_UNITS[i]}"


def reset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true")


def reset_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    from pypod.libpod import prune

    if not args.force and sys.stdin.isatty():
        answer = input("WARNING! This will remove all containers, pods, volumes, images and networks.\n"
                       "Are you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    prune.system_reset(ctx.runtime)
    return 0


def renumber_args(p: argparse.ArgumentParser) -> None:
    pass


def renumber_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    rt = ctx.runtime
    with rt.locks.runtime_lock():
        rt.db.renumber_locks()
    rt.events.write("system", "renumber")
    return 0


def migrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new-runtime", default="")


def migrate_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    from pypod.libpod import prune

    prune.migrate(ctx.runtime, new_runtime=args.new_runtime)
    return 0
