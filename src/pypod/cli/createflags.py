"""Flags of `create`/`run` (podman's names) and their translation into a ContainerConfig.

Every parser here raises :class:`pypod.errors.InvalidArgument` with podman's wording and
nothing else, so the CLI prints ``Error: <msg>`` and exits 125.
"""

from __future__ import annotations

import os
import sys

from pypod.errors import InvalidArgument, PypodError

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    import argparse

    from pypod.libpod.container.model import ContainerConfig, HealthConfig

# The network mode used when --network is not given.  podman uses "bridge"; until bridge
# networks land the lifecycle treats it as a private, empty network namespace.
DEFAULT_NETWORK_MODE = "bridge"

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
VOLUME_OPTIONS = {
    "ro", "rw", "z", "Z", "O", "U", "shared", "rshared", "slave", "rslave", "private", "rprivate",
    "bind", "rbind", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "copy", "nocopy",
    "idmap", "noatime", "atime", "relatime",
}  # fmt: skip
ULIMIT_NAMES = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack", "as",
}  # fmt: skip


def _allow_h_for_hostname(parser: "argparse.ArgumentParser") -> None:
    """podman's -h is --hostname: let a later -h replace argparse's help flag."""
    parser.conflict_handler = "resolve"
    for group in parser._action_groups:  # noqa: SLF001 - argparse has no public API for this
        group.conflict_handler = "resolve"


def add_create_flags(parser: "argparse.ArgumentParser", *, run: bool = False) -> None:
    """Declare every create/run flag plus the IMAGE [COMMAND [ARG...]] positionals.

    argparse builds a help formatter for each `add_argument` only to check the flag's metavar
    (~90 here, each sizing itself to the terminal): one formatter serves them all meanwhile.
    """
    formatter = parser._get_formatter()  # noqa: SLF001
    parser._get_formatter = lambda: formatter  # type: ignore[method-assign]  # noqa: SLF001
    try:
        _add_create_flags(parser, run=run)
    finally:
        del parser._get_formatter  # type: ignore[misc]  # noqa: SLF001


def _add_create_flags(parser: "argparse.ArgumentParser", *, run: bool = False) -> None:
    import argparse

    _allow_h_for_hostname(parser)
    add = parser.add_argument
    append = {"action": "append", "default": []}
    add("-d", "--detach", action="store_true", help="run in the background and print the ID")
    add("--rm", action="store_true", help="remove the container when it exits")
    add("-i", "--interactive", action="store_true", help="keep STDIN open")
    add("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    add("--name", default="", help="assign a name to the container")
    add("--cidfile", default="", help="write the container ID to the file")
    add("--init", action="store_true", help="run an init inside the container")
    add("--init-path", default="")
    add("--entrypoint", default=None, help="overwrite the image's ENTRYPOINT")
    add("-e", "--env", **append, help="set environment variables")
    add("--env-file", **append, help="read environment variables from a file")
    add("--env-host", action="store_true")
    add("-l", "--label", **append, help="set metadata on the container")
    add("--label-file", **append)
    add("--annotation", **append)
    add("-u", "--user", default="", help="username or UID[:group]")
    add("--group-add", **append)
    add("-w", "--workdir", default="", help="working directory inside the container")
    add("-h", "--hostname", default="", help="container host name")
    add("--restart", default="", help="restart policy")
    add("--requires", **append)
    add("--stop-signal", default=None)
    add("--stop-timeout", default=None, type=str)
    add("--health-cmd", default=None)
    add("--health-interval", default="30s")
    add("--health-retries", default="3")
    add("--health-start-period", default="0s")
    add("--health-timeout", default="30s")
    add("--health-on-failure", default="none")
    add("--no-healthcheck", action="store_true")
    add("--ulimit", **append)
    add("--cap-add", **append)
    add("--cap-drop", **append)
    add("--privileged", action="store_true")
    add("--read-only", action="store_true")
    add("--read-only-tmpfs", default="true").pypod_bool = True  # type: ignore[attr-defined]
    add("--security-opt", **append)
    add("-v", "--volume", **append, help="bind mount a volume: [SRC:]DEST[:OPTS]")
    add("--mount", **append)
    add("--tmpfs", **append)
    add("--device", **append)
    add("--sysctl", **append)
    add("--network", "--net", dest="network", **append)
    add("--network-alias", **append)
    add("--ip", default="")
    add("--mac-address", default="")
    add("--dns", **append)
    add("--dns-search", **append)
    add("--dns-option", "--dns-opt", dest="dns_option", **append)
    add("--add-host", **append)
    add("-p", "--publish", **append)
    add("-P", "--publish-all", action="store_true")
    add("--expose", **append)
    add("--pid", default="")
    add("--ipc", default="")
    add("--uts", default="")
    add("--userns", default="")
    add("--cgroupns", default="")
    add("--cgroup-parent", default="")
    add("--cgroups", default="enabled")
    add("-m", "--memory", default="")
    add("--memory-swap", default="")
    add("--memory-reservation", default="")
    add("--cpus", default="")
    add("-c", "--cpu-shares", default="")
    add("--cpuset-cpus", default="")
    add("--pids-limit", default=None)
    add("--shm-size", default="")
    add("--oom-score-adj", default=None)
    add("--pod", default="")
    add("--log-driver", default="")
    add("--log-opt", **append)
    add("--detach-keys", default=None)
    add("-a", "--attach", **append)
    add("--sig-proxy", default="true").pypod_bool = True  # type: ignore[attr-defined]  # bare = true
    add("--rootfs", action="store_true", help="IMAGE is a path to an exploded root filesystem")
    add("--pull", default="missing", help="missing|never (no registry is reachable)")
    add("-q", "--quiet", action="store_true")
    add("--replace", action="store_true", help="replace a container of the same name")
    add("--tz", default="")
    add("--umask", default="")
    add("--systemd", default="true")
    add("--platform", default="")
    add("--arch", default="")
    add("--os", default="")
    add("--timeout", default="0")
    add("--passwd", action="store_true", default=True)
    add("image", nargs="?", default=None, help="IMAGE")
    add("command", nargs=argparse.REMAINDER, help="COMMAND [ARG...]")


# --- small parsers (each: str -> value or InvalidArgument) ----------------------------------


def parse_restart(value: str) -> tuple[str, int]:
    """`no|always|on-failure[:N]|unless-stopped` -> (policy, retries)."""
    name, sep, count = value.partition(":")
    if name not in RESTART_POLICIES and value != "":
        raise InvalidArgument(f'"{value}" is not a valid restart policy: invalid argument')
    retries = 0
    if sep:
        if name != "on-failure":
            raise InvalidArgument("restart policy retries can only be specified with on-failure restart policy")
        try:
            retries = int(count, 10)
        except ValueError:
            raise InvalidArgument(
                f'parsing restart policy retry count: strconv.Atoi: parsing "{count}": invalid syntax'
            ) from None
        if retries < 0:
            raise InvalidArgument("must specify restart policy retry count as a number greater than 0")
    return name, retries


def _parse_rlimit_value(text: str, option: str) -> int:
    try:
        number = int(text, 10)
    except ValueError:
        raise InvalidArgument(
            f'ulimit option "{option}" requires name=SOFT:HARD, failed to be parsed: '
            f'strconv.ParseInt: parsing "{text}": invalid syntax'
        ) from None
    if number < -1 or number >= 2**63:
        raise InvalidArgument(
            f'ulimit option "{option}" requires name=SOFT:HARD, failed to be parsed: '
            f'strconv.ParseInt: parsing "{text}": value out of range'
        )
    return number


def parse_ulimit(value: str) -> str:
    """`name=soft[:hard]` -> normalised "name=soft:hard" (-1 = unlimited)."""
    name, eq, limits = value.partition("=")
    if not eq:
        raise InvalidArgument(f"invalid ulimit argument: {value}")
    if name not in ULIMIT_NAMES:
        raise InvalidArgument(f"invalid ulimit type: {name}")
    soft_text, colon, hard_text = limits.partition(":")
    if colon and ":" in hard_text:
        raise InvalidArgument(f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`")
    soft = _parse_rlimit_value(soft_text, value)
    hard = _parse_rlimit_value(hard_text, value) if colon else soft
    if soft != -1 and hard != -1 and soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return f"{name}={soft}:{hard}"


def parse_signal(value: str) -> int:
    """A signal name (`TERM`, `SIGTERM`, `sigkill`) or number -> its number."""
    import signal as _signal  # here: every create/run need not build its enums

    text = value.strip()
    if text.isdecimal():
        number = int(text)
        if 0 < number < 65:
            return number
        raise InvalidArgument(f"invalid signal: {value}")
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    rt = name.replace("SIGRTMIN", "")
    if name.startswith("SIGRTMIN") and (rt == "" or (rt[0] == "+" and rt[1:].isdecimal())):
        offset = int(rt[1:]) if rt else 0
        if offset <= _signal.SIGRTMAX - _signal.SIGRTMIN:
            return int(_signal.SIGRTMIN) + offset
    sig = getattr(_signal.Signals, name, None) if name.isidentifier() else None
    if sig is None:
        raise InvalidArgument(f"invalid signal: {value}")
    return int(sig)


def _port_number(text: str, what: str) -> int:
    try:
        number = int(text, 10)
    except ValueError:
        raise InvalidArgument(
            f'parsing {what}: invalid port number: strconv.Atoi: parsing "{text}": invalid syntax'
        ) from None
    if not 1 <= number <= 65535:
        raise InvalidArgument(f"parsing {what}: port numbers must be between 1 and 65535 (inclusive), got {number}")
    return number


def _port_range(text: str, what: str) -> tuple[int, int]:
    """"80" -> (80, 1); "8000-8010" -> (8000, 11)."""
    start_text, dash, end_text = text.partition("-")
    start = _port_number(start_text, what)
    if not dash:
        return start, 1
    end = _port_number(end_text, what)
    if end < start:
        raise InvalidArgument(f"parsing {what}: invalid port range {text}: end must be greater than start")
    return start, end - start + 1


def parse_publish(value: str) -> list[dict[str, Any]]:
    """`[IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp]` -> port mappings (ranges kept as one entry)."""
    spec, slash, proto = value.partition("/")
    protocols = (proto or "tcp").split(",")
    for p in protocols:
        if p not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"unrecognized protocol {p!r} in port mapping")
    host_ip = ""
    if spec.startswith("["):  # [v6]:host:ctr
        end = spec.find("]")
        if end < 0:
            raise InvalidArgument(f"invalid IPv6 address in port mapping {value}")
        host_ip, spec = spec[1:end], spec[end + 1 :].lstrip(":")
    parts = spec.split(":")
    if len(parts) > 3:
        raise InvalidArgument(f"invalid port format - too many colons: {value}")
    if len(parts) == 3:
        if not host_ip:
            host_ip = parts[0]
        parts = parts[1:]
    if host_ip:
        import ipaddress

        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address {host_ip:s} in port mapping") from None
    ctr_text = parts[-1]
    host_text = parts[0] if len(parts) == 2 else ""
    if ctr_text == "":
        raise InvalidArgument("must provide a non-empty container port to publish")
    ctr_port, count = _port_range(ctr_text, "container port")
    host_port = 0
    if host_text:
        host_port, host_count = _port_range(host_text, "host port")
        if host_count != count:
            raise InvalidArgument("host and container port ranges have different lengths")
        if host_port + count - 1 > 65535:
            raise InvalidArgument("host port range exceeds 65535")
    return [
        {"host_ip": host_ip, "host_port": host_port, "container_port": ctr_port, "protocol": p, "range": count}
        for p in protocols
    ]


def parse_volume(value: str, *, check_source: bool = True) -> dict[str, Any]:
    """`SRC:DEST[:OPTS]` / `NAME:DEST[:OPTS]` / `DEST` -> {"type": bind|volume, ...}."""
    if value == "":
        raise InvalidArgument("volume specification must not be empty")
    parts = value.split(":")
    if len(parts) > 3:
        raise InvalidArgument(f"incorrect volume format {value!r}, should be [host-dir:]ctr-dir[:option]")
    options: list[str] = []
    if len(parts) == 1:
        src, dest = "", parts[0]
    elif len(parts) == 2 and not parts[1].startswith("/") and parts[0].startswith("/"):
        src, dest, options = "", parts[0], parts[1].split(",")
    else:
        src, dest = parts[0], parts[1]
        if len(parts) == 3:
            options = parts[2].split(",")
    for opt in options:
        if opt not in VOLUME_OPTIONS:
            raise InvalidArgument(f"invalid option type: {opt!r}")
    if sum(o in ("ro", "rw") for o in options) > 1:
        raise InvalidArgument("cannot pass 'ro' and 'rw' options more than once")
    if not dest.startswith("/"):
        raise InvalidArgument(f'invalid container path "{dest}", must be an absolute path')
    dest = os.path.normpath(dest)
    if dest.startswith("//"):
        dest = "/" + dest.lstrip("/")
    if src == "":
        return {"type": "volume", "name": "", "destination": dest, "options": options, "anonymous": True}
    if src.startswith("/") or src.startswith("."):
        src_path = os.path.abspath(src)
        if check_source and not os.path.exists(src_path):
            raise InvalidArgument(f"statfs {src_path}: no such file or directory")
        return {"type": "bind", "source": src_path, "destination": dest, "options": options}
    import re

    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", src):
        raise InvalidArgument(f"invalid volume name {src!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    return {"type": "volume", "name": src, "destination": dest, "options": options, "anonymous": False}


def parse_key_values(items: list[str], what: str) -> dict[str, str]:
    """`KEY=VALUE` items (a bare KEY means an empty value)."""
    out: dict[str, str] = {}
    for item in items:
        key, _eq, val = item.partition("=")
        if key == "":
            raise InvalidArgument(f"invalid {what} {item!r}: empty key")
        out[key] = val
    return out


def parse_env(items: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """`-e K=V`, `-e K` (taken from our environment when set), `-e PREFIX*`."""
    environ = dict(os.environ) if environ is None else environ
    out: dict[str, str] = {}
    for item in items:
        key, eq, val = item.partition("=")
        if key == "":
            raise InvalidArgument(f'invalid environment variable: "{item}"')
        if eq:
            out[key] = val
        elif key.endswith("*"):
            out.update({k: v for k, v in environ.items() if k.startswith(key[:-1])})
        elif key in environ:
            out[key] = environ[key]
    return out


def read_env_file(path: str) -> list[str]:
    """Lines of an env file, without comments and blank lines."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise InvalidArgument(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def read_label_file(path: str) -> list[str]:
    return read_env_file(path)


def _size(value: str, what: str) -> int:
    from pypod.cli import humanize

    try:
        return humanize.parse_size(value)
    except InvalidArgument:
        raise InvalidArgument(f"invalid value for {what}: invalid size: '{value}'") from None


def _duration(value: str, what: str) -> float:
    from pypod.cli import humanize

    try:
        return humanize.parse_duration(value)
    except InvalidArgument:
        raise InvalidArgument(f'invalid argument "{value}" for "--{what}" flag: time: invalid duration "{value}"') from None


def _int(value: str, what: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise InvalidArgument(f'invalid argument "{value}" for "{what}" flag: strconv.ParseInt: parsing "{value}": invalid syntax') from None


def parse_network(values: list[str]) -> tuple[str, list[str]]:
    """--network values -> (mode, named networks)."""
    if not values:
        return DEFAULT_NETWORK_MODE, []
    items = [n for v in values for n in v.split(",") if n]
    if not items:
        raise InvalidArgument("network name cannot be empty")
    first = items[0]
    special = first in ("none", "host", "bridge", "private", "slirp4netns", "pasta") or first.startswith(("container:", "ns:"))
    if special:
        if len(items) > 1:
            raise InvalidArgument(f"cannot set multiple networks without bridge network mode, selected mode {first.split(':')[0]}: invalid argument")
        if first.startswith("container:") and first == "container:":
            raise InvalidArgument("container: network mode needs a container name or ID")
        if first.startswith("ns:") and not first[3:].startswith("/"):
            raise InvalidArgument(f"invalid network namespace path {first[3:]!r}")
        return first, []
    return "bridge", items


def parse_health(args: "argparse.Namespace") -> "HealthConfig | None":
    from pypod.libpod.container.model import HealthConfig

    if args.no_healthcheck:
        return HealthConfig(test=["NONE"])
    if not args.health_cmd:
        return None
    cmd = args.health_cmd
    if cmd.lstrip().startswith("["):
        import json

        try:
            test = json.loads(cmd)
        except ValueError:
            raise InvalidArgument(f"invalid healthcheck command {cmd!r}") from None
        if not isinstance(test, list) or not all(isinstance(x, str) for x in test) or not test:
            raise InvalidArgument(f"invalid healthcheck command {cmd!r}")
        if test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            test = ["CMD", *test]
    elif cmd.strip().lower() == "none":
        test = ["NONE"]
    else:
        test = ["CMD-SHELL", cmd]
    interval = args.health_interval
    interval_s = 0.0 if interval == "disable" else _duration(interval, "health-interval")
    if interval != "disable" and interval_s < 1:
        raise InvalidArgument("healthcheck-interval must be at least 1 second")
    timeout_s = _duration(args.health_timeout, "health-timeout")
    if timeout_s < 1:
        raise InvalidArgument("healthcheck-timeout must be at least 1 second")
    start = _duration(args.health_start_period, "health-start-period")
    if start < 0:
        raise InvalidArgument("healthcheck-start-period must be 0 seconds or greater")
    retries = _int(str(args.health_retries), "--health-retries")
    if retries < 1:
        raise InvalidArgument("healthcheck-retries must be greater than 0")
    action = args.health_on_failure
    if action not in ("none", "kill", "restart", "stop"):
        raise InvalidArgument(f'invalid healthcheck action "{action}"')
    return HealthConfig(test=test, interval=interval_s, timeout=timeout_s, retries=retries, start_period=start, on_failure=action)


def parse_tmpfs(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        dest, _c, opts = item.partition(":")
        if not dest.startswith("/"):
            raise InvalidArgument(f'invalid container path "{dest}", must be an absolute path')
        out[dest] = opts or "rw,noexec,nosuid,nodev"
    return out


def parse_mount(item: str) -> dict[str, Any]:
    """--mount type=bind|volume|tmpfs,source=..,destination=..[,ro]."""
    fields: dict[str, str] = {}
    flags: list[str] = []
    for part in item.split(","):
        key, eq, val = part.partition("=")
        if eq:
            fields[key.lower()] = val
        elif part:
            flags.append(part)
    kind = fields.get("type", "")
    dest = fields.get("destination") or fields.get("dst") or fields.get("target") or ""
    src = fields.get("source") or fields.get("src") or ""
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f'invalid filesystem type "{kind}"' if kind else "type must be specified")
    if not dest.startswith("/"):
        raise InvalidArgument("must set a destination" if not dest else f'invalid container path "{dest}", must be an absolute path')
    options = [f for f in flags if f in VOLUME_OPTIONS or f == "readonly"]
    options = ["ro" if o == "readonly" else o for o in options]
    if fields.get("readonly") in ("true", "1"):
        options.append("ro")
    if kind == "tmpfs":
        return {"type": "tmpfs", "destination": dest, "options": options}
    if kind == "bind":
        if not src:
            raise InvalidArgument("must set a source")
        return parse_volume(f"{src}:{dest}" + (":" + ",".join(options) if options else ""))
    spec = f"{src}:{dest}" if src else dest
    return parse_volume(spec + (":" + ",".join(options) if options and src else ""))


# --- the whole config ---------------------------------------------------------------------


def _command_words(text: str) -> list[str]:
    import json

    if text.lstrip().startswith("["):
        try:
            words = json.loads(text)
        except ValueError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return words
    return [text] if text else []


def _resolve_container_id(rt: Any, ref: str) -> str:
    return rt.get_container(ref).id


def build_config(args: "argparse.Namespace", rt: Any, argv: list[str] | None = None) -> "ContainerConfig":
    """Validate the create/run flags and return the ContainerConfig to create.

    id/name/created are left for ``Runtime.create_container`` to fill when not given.
    """
    from pypod.libpod.container.model import ContainerConfig

    cfg = ContainerConfig(id="", name=args.name or "", created="")
    if args.rootfs:
        cfg.rootfs = os.path.abspath(args.image)
        if not os.path.isdir(cfg.rootfs):
            raise InvalidArgument(f"stat {cfg.rootfs}: no such file or directory")
    else:
        cfg.raw_image_name = args.image
    if args.pull not in ("missing", "never", "always", "newer"):
        raise InvalidArgument(f'invalid pull policy "{args.pull}"')
    cfg.command = list(args.command) if args.command else None
    if args.entrypoint is not None:
        cfg.entrypoint = _command_words(args.entrypoint)

    env_items: list[str] = []
    for path in args.env_file:
        env_items.extend(read_env_file(path))
    env_items.extend(args.env)
    cfg.env = parse_env(env_items)
    if args.tz:
        cfg.env["TZ"] = args.tz
    label_items: list[str] = []
    for path in args.label_file:
        label_items.extend(read_label_file(path))
    label_items.extend(args.label)
    cfg.labels = parse_key_values(label_items, "label")
    cfg.annotations = parse_key_values(args.annotation, "annotation")

    cfg.workdir = args.workdir
    if cfg.workdir and not cfg.workdir.startswith("/"):
        raise InvalidArgument(f"workdir {cfg.workdir!r} must be absolute")
    cfg.user = args.user
    cfg.group_add = list(args.group_add)
    cfg.hostname = args.hostname
    cfg.tty = args.tty
    cfg.stdin = args.interactive
    cfg.privileged = args.privileged
    cfg.read_only = args.read_only
    cfg.read_only_tmpfs = str(args.read_only_tmpfs).lower() not in ("false", "0", "f")
    cfg.cap_add = [c.upper() for c in args.cap_add]
    cfg.cap_drop = [c.upper() for c in args.cap_drop]
    for opt in args.security_opt:
        key, _eq, val = opt.partition("=" if "=" in opt else ":")
        if opt == "no-new-privileges" or (key == "no-new-privileges" and val in ("", "true")):
            cfg.no_new_privileges = True
        elif key == "seccomp":
            cfg.seccomp_profile = val
        elif key in ("label", "apparmor", "mask", "unmask", "proc-opts", "systempaths", "no-new-privileges"):
            continue
        else:
            raise InvalidArgument(f"invalid --security-opt 1: {opt!r}")
    cfg.ulimits = [parse_ulimit(u) for u in args.ulimit]

    for item in args.volume:
        mount = parse_volume(item)
        _add_mount(cfg, mount)
    for item in args.mount:
        _add_mount(cfg, parse_mount(item))
    cfg.tmpfs.update(parse_tmpfs(args.tmpfs))
    cfg.devices = list(args.device)
    for dev in cfg.devices:
        src = dev.split(":")[0]
        if not os.path.exists(src):
            raise InvalidArgument(f"stat {src}: no such file or directory")
    cfg.sysctls = parse_key_values(args.sysctl, "sysctl")

    mode, networks = parse_network(args.network)
    if mode.startswith("container:"):
        mode = "container:" + _resolve_container_id(rt, mode[len("container:"):])
    cfg.network_mode, cfg.networks = mode, networks
    if args.network_alias:
        targets = networks or ["podman"]
        cfg.network_aliases = {n: list(args.network_alias) for n in targets}
    cfg.static_ip = args.ip
    cfg.static_mac = args.mac_address
    if args.ip:
        import ipaddress

        try:
            ipaddress.ip_address(args.ip)
        except ValueError:
            raise InvalidArgument(f"{args.ip} is not an ip address") from None
    cfg.dns_servers = list(args.dns)
    cfg.dns_search = list(args.dns_search)
    cfg.dns_options = list(args.dns_option)
    for host in args.add_host:
        name, sep, ip = host.partition(":")
        if not sep or not name or not ip:
            raise InvalidArgument(f"invalid IP address in add-host: {ip!r}" if sep else f"invalid add-host {host!r}")
    cfg.add_hosts = list(args.add_host)
    for item in args.publish:
        cfg.ports.extend(parse_publish(item))
    if cfg.ports and (cfg.network_mode in ("none", "host") or cfg.network_mode.startswith("container:")):
        # as podman: a warning, and the container runs without them
        print("Port mappings have been discarded as one of the Host, Container, Pod, and None network modes "
              "are in use", file=sys.stderr)
        cfg.ports = []
    for item in args.expose:
        spec, _s, proto = item.partition("/")
        _port_range(spec, "container port")
        cfg.expose.append(f"{spec}/{proto or 'tcp'}")
    if args.publish_all:
        cfg.labels.setdefault("io.pypod.publish-all", "true")
    cfg.pid_mode = _ns_mode(args.pid, rt, "pid")
    cfg.ipc_mode = _ns_mode(args.ipc, rt, "ipc")
    cfg.uts_mode = _ns_mode(args.uts, rt, "uts")
    _check_host_namespaces(cfg)

    if args.memory:
        cfg.memory = _size(args.memory, "memory")
    if args.memory_swap:
        cfg.memory_swap = -1 if args.memory_swap == "-1" else _size(args.memory_swap, "memory-swap")
        if cfg.memory_swap != -1 and cfg.memory and cfg.memory_swap < cfg.memory:
            raise InvalidArgument("must provide a memory-swap value greater than or equal to the memory value")
    if args.cpus:
        try:
            cfg.cpus = float(args.cpus)
        except ValueError:
            raise InvalidArgument(f'invalid argument "{args.cpus}" for "--cpus" flag: strconv.ParseFloat: parsing "{args.cpus}": invalid syntax') from None
        if cfg.cpus < 0:
            raise InvalidArgument("cpus cannot be negative")
    if args.cpu_shares:
        cfg.cpu_shares = _int(args.cpu_shares, "-c, --cpu-shares")
    if args.pids_limit is not None:
        cfg.pids_limit = _int(args.pids_limit, "--pids-limit")
        if cfg.pids_limit == 0:
            cfg.pids_limit = -1
    if args.shm_size:
        cfg.shm_size = _size(args.shm_size, "shm-size")
    else:
        cfg.shm_size = 65536000  # podman: containers.conf "65536k" read as decimal units
    cfg.cgroup_parent = args.cgroup_parent

    cfg.init = args.init
    if args.stop_signal is not None:
        cfg.stop_signal = parse_signal(args.stop_signal)
    if args.stop_timeout is not None:
        cfg.stop_timeout = _int(args.stop_timeout, "--stop-timeout")
    policy, retries = parse_restart(args.restart)
    if policy and args.rm and policy != "no":
        raise InvalidArgument('the --rm option conflicts with --restart, when the restartPolicy is not "" and not "no"')
    cfg.restart_policy, cfg.restart_retries = policy, retries
    cfg.requires = [_resolve_container_id(rt, r) for item in args.requires for r in item.split(",") if r]
    cfg.healthcheck = parse_health(args)
    cfg.auto_remove = args.rm
    if args.pod:
        from pypod.libpod.pod import resolve_pod_flag

        cfg.pod_id = resolve_pod_flag(rt, args.pod)  # "new:NAME" creates the pod
    if args.log_driver:
        if args.log_driver not in ("k8s-file", "none", "passthrough", "journald"):
            raise InvalidArgument(f"invalid log driver: {args.log_driver}")
        cfg.log_driver = args.log_driver
    for opt in args.log_opt:
        key, _eq, val = opt.partition("=")
        if key == "path":
            cfg.log_path = val
        elif key == "tag":
            cfg.log_tag = val
    if args.umask:
        try:
            if int(args.umask, 8) > 0o777:
                raise ValueError
        except ValueError:
            raise InvalidArgument(f"invalid umask string {args.umask}: invalid argument") from None
        cfg.umask = args.umask
    for stream in args.attach:
        if stream.lower() not in ("stdin", "stdout", "stderr"):
            raise InvalidArgument(f"invalid stream {stream!r} for --attach - must be one of stdin, stdout, or stderr: invalid argument")
    if args.detach and args.attach:
        raise InvalidArgument("--attach and --detach cannot be used together")
    cfg.create_command = list(argv) if argv is not None else []
    return cfg


_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")  # fmt: skip


def _check_host_namespaces(cfg: Any) -> None:
    """Refuse a hostname or namespaced sysctls that would change the host's own namespaces."""
    if cfg.hostname and cfg.uts_mode == "host":
        raise InvalidArgument(
            "invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration"
        )
    for key, value in cfg.sysctls.items():
        if key.startswith("net.") and cfg.network_mode == "host":
            kind = "Network"
        elif (key in _IPC_SYSCTLS or key.startswith("fs.mqueue.")) and cfg.ipc_mode == "host":
            kind = "IPC"
        elif key in ("kernel.hostname", "kernel.domainname") and cfg.uts_mode == "host":
            kind = "UTS"
        else:
            continue
        raise InvalidArgument(f"sysctl {key}={value} can't be set since {kind} Namespace set to host: invalid argument")


def _ns_mode(value: str, rt: Any, what: str) -> str:
    if value in ("", "private", "host"):
        return "" if value == "private" else value
    if value.startswith("container:"):
        return "container:" + _resolve_container_id(rt, value[len("container:"):])
    if value.startswith("ns:"):
        return value
    if what == "ipc" and value in ("shareable", "none"):
        return value
    raise InvalidArgument(f'invalid value passed to --{what}: "{value}"')


def _add_mount(cfg: "ContainerConfig", mount: dict[str, Any]) -> None:
    dest = mount["destination"]
    existing = [m["destination"] for m in cfg.binds + cfg.volumes] + list(cfg.tmpfs)
    if dest in existing:
        raise InvalidArgument(f"{dest}: duplicate mount destination")
    kind = mount.pop("type")
    if kind == "bind":
        cfg.binds.append(mount)
    elif kind == "tmpfs":
        cfg.tmpfs[dest] = ",".join(mount.get("options") or []) or "rw,noexec,nosuid,nodev"
    else:
        cfg.volumes.append(mount)


__all__ = [
    "DEFAULT_NETWORK_MODE",
    "PypodError",
    "add_create_flags",
    "build_config",
    "parse_env",
    "parse_health",
    "parse_network",
    "parse_publish",
    "parse_restart",
    "parse_signal",
    "parse_ulimit",
    "parse_volume",
]
