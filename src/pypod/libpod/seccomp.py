"""containers-common seccomp.json → the OCI ``linux.seccomp`` object.

The containers-common format lists syscall groups with ``includes``/``excludes``
conditions on capabilities and architectures; only the groups that apply to
this container (its capabilities, this machine's architecture) are kept.
"""

from __future__ import annotations

import json
import os

from pypod.errors import InvalidArgument

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterable

DEFAULT_PROFILE_PATHS = ("/etc/containers/seccomp.json", "/usr/share/containers/seccomp.json")

# uname machine -> (Go arch name used in "arches", SCMP arch of archMap)
_MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


def default_profile_path(configured: str = "") -> str:
    """The profile file to use: containers.conf's, else the first that exists."""
    if configured:
        return configured
    for path in DEFAULT_PROFILE_PATHS:
        if os.path.exists(path):
            return path
    return ""


def load_profile(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError as exc:
        raise InvalidArgument(f"opening seccomp profile failed: open {path}: no such file or directory") from exc
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"loading seccomp profile ({path}) failed: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument(f"loading seccomp profile ({path}) failed: not a JSON object")
    return data


def _norm_cap(cap: str) -> str:
    cap = cap.upper()
    return cap if cap.startswith("CAP_") else "CAP_" + cap


def to_oci(profile: dict[str, Any], capabilities: Iterable[str], machine: str | None = None) -> dict[str, Any]:
    """Convert a containers-common (or already-OCI) profile for these capabilities."""
    caps = {_norm_cap(c) for c in capabilities}
    go_arch, scmp_arch = _MACHINES.get(machine or os.uname().machine, ("amd64", "SCMP_ARCH_X86_64"))
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction", "SCMP_ACT_ERRNO")}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = int(profile["defaultErrnoRet"])

    arches: list[str] = []
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == scmp_arch:
            arches = [scmp_arch, *entry.get("subArchitectures", [])]
            break
    if not arches and profile.get("architectures"):
        arches = list(profile["architectures"])
    if arches:
        out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])

    syscalls: list[dict[str, Any]] = []
    for call in profile.get("syscalls") or []:
        if not _applies(call, caps, go_arch):
            continue
        names = list(call.get("names") or ([call["name"]] if call.get("name") else []))
        if not names:
            continue
        rule: dict[str, Any] = {"names": names, "action": call["action"]}
        if call.get("args"):
            rule["args"] = [_arg(a) for a in call["args"]]
        if "errnoRet" in call:
            rule["errnoRet"] = int(call["errnoRet"])
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out


def _applies(call: dict[str, Any], caps: set[str], go_arch: str) -> bool:
    inc = call.get("includes") or {}
    exc = call.get("excludes") or {}
    if inc.get("arches") and go_arch not in inc["arches"]:
        return False
    if inc.get("caps") and not all(_norm_cap(c) in caps for c in inc["caps"]):
        return False
    if exc.get("arches") and go_arch in exc["arches"]:
        return False
    if exc.get("caps") and any(_norm_cap(c) in caps for c in exc["caps"]):
        return False
    return True


def _arg(arg: dict[str, Any]) -> dict[str, Any]:
    out = {"index": int(arg["index"]), "value": int(arg.get("value", 0)), "op": arg["op"]}
    if arg.get("valueTwo"):
        out["valueTwo"] = int(arg["valueTwo"])
    return out


def seccomp_for(profile_setting: str, capabilities: Iterable[str], engine_profile: str = "") -> dict[str, Any] | None:
    """The OCI seccomp object for a container: None when "unconfined" or no profile exists."""
    if profile_setting == "unconfined":
        return None
    path = profile_setting or default_profile_path(engine_profile)
    if not path or path == "unconfined":
        return None
    return to_oci(load_profile(path), capabilities)
