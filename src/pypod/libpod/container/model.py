"""The container's configuration (immutable after create) and its state (mutable, reset on reboot).

Both are stored as JSON in the database; ``to_dict``/``from_dict`` are the only conversions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


class ContainerStatus:
    """The states of the seed, with podman's display names."""

    UNKNOWN = "unknown"
    CONFIGURED = "configured"  # shown as "created"
    CREATED = "created"  # shown as "initialized"
    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    EXITED = "exited"
    REMOVING = "removing"
    STOPPING = "stopping"

    DISPLAY = {CONFIGURED: "created", CREATED: "initialized"}

    @classmethod
    def display(cls, status: str) -> str:
        return cls.DISPLAY.get(status, status)


@dataclass
class HealthConfig:
    """The healthcheck of a container."""
    test: list[str]  # ["CMD", ...] | ["CMD-SHELL", "cmd"] | ["NONE"]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    on_failure: str = "none"  # none|kill|restart|stop


@dataclass(init=False, repr=False, eq=False)  # methods from _plain_methods: no generated code to exec
class ContainerConfig:
    """Everything `create` decided; rewritten only by rename and renumber."""

    id: str
    name: str
    created: str  # RFC 3339 with nanoseconds, UTC
    image_id: str = ""
    image_name: str = ""  # the name the user gave, resolved (localhost/busybox:latest)
    raw_image_name: str = ""
    rootfs_layer: str = ""  # the container's read-write layer in storage
    rootfs: str = ""  # --rootfs PATH instead of an image
    command: list[str] | None = None  # user command (None: image CMD)
    entrypoint: list[str] | None = None  # user entrypoint (None: image ENTRYPOINT)
    env: dict[str, str] = field(default_factory=dict)  # user -e / --env-file, merged over the image's
    workdir: str = ""
    user: str = ""
    group_add: list[str] = field(default_factory=list)
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    stdin: bool = False  # -i
    privileged: bool = False
    read_only: bool = False
    read_only_tmpfs: bool = True  # with read_only: tmpfs on /tmp, /var/tmp and /run
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    seccomp_profile: str = ""  # "" default, "unconfined", or a path
    no_new_privileges: bool = False
    ulimits: list[str] = field(default_factory=list)  # "nofile=1024:2048"
    binds: list[dict[str, Any]] = field(default_factory=list)  # {source, destination, options: [...]}
    volumes: list[dict[str, Any]] = field(default_factory=list)  # {name, destination, options, anonymous}
    tmpfs: dict[str, str] = field(default_factory=dict)  # destination -> options
    devices: list[str] = field(default_factory=list)  # "/dev/null[:/dev/x[:rwm]]"
    sysctls: dict[str, str] = field(default_factory=dict)
    network_mode: str = "none"  # none|host|bridge|private|container:ID|ns:PATH
    networks: list[str] = field(default_factory=list)
    network_aliases: dict[str, list[str]] = field(default_factory=dict)
    static_ip: str = ""
    static_mac: str = ""
    ports: list[dict[str, Any]] = field(default_factory=list)  # {host_ip, host_port, container_port, protocol, range}
    expose: list[str] = field(default_factory=list)
    dns_servers: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    add_hosts: list[str] = field(default_factory=list)
    pid_mode: str = ""  # ""|host|container:ID|ns:PATH
    ipc_mode: str = ""
    uts_mode: str = ""
    memory: int = 0  # bytes, 0 = unlimited
    memory_swap: int = 0
    cpus: float = 0.0
    cpu_shares: int = 0
    pids_limit: int = 0  # 0 = default (2048 like podman), -1 unlimited
    shm_size: int = 64 * 1024 * 1024
    init: bool = False
    stop_signal: int = 15
    stop_timeout: int = 10
    restart_policy: str = ""  # ""|no|on-failure|always|unless-stopped
    restart_retries: int = 0
    requires: list[str] = field(default_factory=list)  # container IDs this one needs
    healthcheck: HealthConfig | None = None
    auto_remove: bool = False  # --rm
    pod_id: str = ""
    is_infra: bool = False
    create_command: list[str] = field(default_factory=list)
    log_driver: str = "k8s-file"
    log_path: str = ""
    log_tag: str = ""
    oci_runtime: str = ""
    lock_id: int = -1
    cgroup_parent: str = ""
    umask: str = "0022"
    mounts_extra: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ContainerConfig":
        known = cls.__dataclass_fields__  # the field names (no ClassVar here); `fields()` is slow in ps loops
        values = {k: v for k, v in data.items() if k in known}
        hc = values.get("healthcheck")
        if isinstance(hc, dict):
            values["healthcheck"] = HealthConfig(**hc)
        return _build(cls, values)


@dataclass(init=False, repr=False, eq=False)  # methods from _plain_methods
class ContainerState:
    """What changes while the container lives; reset by refresh after a reboot."""

    status: str = ContainerStatus.CONFIGURED
    pid: int = 0
    conmon_pid: int = 0
    exit_code: int = 0
    exited: bool = False
    oom_killed: bool = False
    error: str = ""
    started_at: str = ""  # RFC 3339, "" = never
    finished_at: str = ""
    checked_at: str = ""
    mounted: bool = False
    mountpoint: str = ""
    run_dir: str = ""
    net_ns: str = ""
    network_status: dict[str, Any] = field(default_factory=dict)
    stopped_by_user: bool = False
    restart_policy_match: bool = False
    restart_count: int = 0
    exec_ids: list[str] = field(default_factory=list)
    health_status: str = ""  # ""|starting|healthy|unhealthy
    health_failing_streak: int = 0
    health_log: list[dict[str, Any]] = field(default_factory=list)
    checkpointed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ContainerState":
        known = cls.__dataclass_fields__  # the field names (no ClassVar here); `fields()` is slow in ps loops
        return _build(cls, {k: v for k, v in data.items() if k in known})


_MISSING = object()
_SCALARS = frozenset((str, int, bool, float, type(None)))


def _plain(value: Any) -> Any:
    """One field value as `dataclasses.asdict` copies it, fast for the JSON types records hold."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_plain(v) for v in value]
    if kind is dict:
        return {_plain(k): _plain(v) for k, v in value.items()}
    if hasattr(kind, "__dataclass_fields__"):
        return dataclasses.asdict(value)
    if kind is tuple:
        return tuple(_plain(v) for v in value)
    import copy

    return copy.deepcopy(value)  # what asdict does with any other object


def plain_dict(obj: Any) -> dict[str, Any]:
    """`dataclasses.asdict(obj)` for a record whose fields hold JSON-like values (and nested
    dataclasses): the same result without asdict's generic recursion (every state save)."""
    return {name: _plain(getattr(obj, name)) for name in obj.__dataclass_fields__}


def _plain_methods(cls: Any) -> None:
    """Give ``cls`` the ``__init__``, ``__repr__`` and ``__eq__`` that ``@dataclass`` generates, as
    plain functions over its fields: ``@dataclass`` builds them by compiling source text, which
    for ~90 fields is most of the import cost of this module (paid by every command and by
    conmon's exit command).  Same signature rules, defaults, factories and field order."""
    fields = tuple(cls.__dataclass_fields__.values())
    names = tuple(f.name for f in fields)
    known = frozenset(names)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    factories = {f.name: f.default_factory for f in fields if f.default_factory is not dataclasses.MISSING}

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"__init__() takes {len(names) + 1} positional arguments but {len(args) + 1} were given")
        for key in kwargs:
            if key not in known:
                raise TypeError(f"__init__() got an unexpected keyword argument '{key}'")
        for key in names[: len(args)]:
            if key in kwargs:
                raise TypeError(f"__init__() got multiple values for argument '{key}'")
        given = dict(zip(names, args))
        attrs = self.__dict__
        for name in names:
            value = given.get(name, _MISSING)
            if value is _MISSING:
                value = kwargs.get(name, _MISSING)
            if value is _MISSING:
                if name in defaults:
                    value = defaults[name]
                elif name in factories:
                    value = factories[name]()
                else:
                    raise TypeError(f"__init__() missing 1 required positional argument: '{name}'")
            attrs[name] = value

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self: Any, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, name) for name in names) == tuple(getattr(other, name) for name in names)

    for func in (__init__, __repr__, __eq__):
        func.__qualname__ = f"{cls.__qualname__}.{func.__name__}"
        setattr(cls, func.__name__, func)
    cls.__hash__ = None  # as @dataclass with eq=True


_plain_methods(ContainerConfig)
_plain_methods(ContainerState)


def _build(cls: Any, values: dict[str, Any]) -> Any:
    """``cls(**values)``; a stored record names every field, so skip the generated ``__init__``
    (its default factories) then: half the cost of a row in `ps` with many containers."""
    if len(values) == len(cls.__dataclass_fields__):
        obj = object.__new__(cls)
        obj.__dict__.update(values)
        return obj
    return cls(**values)
