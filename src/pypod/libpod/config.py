"""Engine configuration: defaults, containers.conf, then explicit overrides; every path derives from here.

Reads the keys pypod supports from ``/usr/share/containers/containers.conf``,
``/etc/containers/containers.conf`` and ``$CONTAINERS_CONF`` (later files win, key by key),
then ``$CONTAINERS_CONF_OVERRIDE``, then the environment (``STORAGE_DRIVER``), then the
keyword overrides of :func:`load_config` (the CLI's global options).
"""

from __future__ import annotations

import os
from functools import lru_cache

from pypod.errors import InvalidArgument, OCIRuntimeError

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

DEFAULT_ROOT = "/var/lib/pypod"
DEFAULT_RUNROOT = "/run/pypod"
SYSTEM_CONF_FILES = ("/usr/share/containers/containers.conf", "/etc/containers/containers.conf")

DEFAULT_CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
]
DEFAULT_HOOKS_DIRS = ["/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d"]
SECCOMP_CANDIDATES = ("/etc/containers/seccomp.json", "/usr/share/containers/seccomp.json")
STORAGE_DRIVERS = ("overlay", "vfs")
LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic")

_BIN_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin")
DEFAULT_RUNTIME_PATHS: dict[str, list[str]] = {
    "runc": [f"{d}/runc" for d in _BIN_DIRS] + ["/usr/lib/cri-o-runc/sbin/runc"],
    "crun": [f"{d}/crun" for d in _BIN_DIRS],
}
DEFAULT_CONMON_PATHS = [
    "/usr/libexec/podman/conmon",
    "/usr/local/libexec/podman/conmon",
    "/usr/local/lib/podman/conmon",
    *(f"{d}/conmon" for d in _BIN_DIRS),
]
DEFAULT_INIT_PATHS = [
    "/usr/libexec/podman/catatonit",
    "/usr/libexec/catatonit/catatonit",
    "/usr/local/libexec/podman/catatonit",
    *(f"{d}/catatonit" for d in _BIN_DIRS),
]


@lru_cache(maxsize=64)
def find_binary(name: str, candidates: tuple[str, ...] = ()) -> str:
    """First executable among ``candidates``, else ``name`` on $PATH; "" when none (cached)."""
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    import shutil  # not at import time: `ps`/`exists` need no shutil (bz2, lzma)

    return shutil.which(name) or ""


_FIELD_DEFAULTS: dict[str, Any] = {
    "root": DEFAULT_ROOT,
    "runroot": DEFAULT_RUNROOT,
    "tmpdir": "",  # "" means <runroot>/libpod/tmp
    "storage_driver": "overlay",
    "runtime": "runc",  # name of the OCI runtime
    "runtime_path": "",  # resolved binary of ``runtime``
    "conmon_path": "",
    "init_path": "",  # catatonit, for --init and pod infra containers
    "hooks_dirs": DEFAULT_HOOKS_DIRS,
    "default_ulimits": [],
    "default_capabilities": DEFAULT_CAPABILITIES,
    "seccomp_profile": "",  # "" means the runtime default built into pypod
    "events_logger": "file",
    "log_level": "warn",
    "network_config_dir": "",  # "" = <root>/networks (see network/store.py)
    "cgroup_manager": "cgroupfs",
    "runtime_paths": DEFAULT_RUNTIME_PATHS,
    "conmon_paths": DEFAULT_CONMON_PATHS,
}
FIELD_NAMES = tuple(_FIELD_DEFAULTS)


def _fresh(value: Any) -> Any:
    """A copy of a default that the instance may mutate (lists, and dicts of lists)."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return {k: list(v) for k, v in value.items()}
    return value


class EngineConfig:
    """Everything the engine needs to know about this host and its directories.

    A plain class, not a dataclass: `dataclasses` costs ~1.5 ms of import on every command.
    """

    __slots__ = FIELD_NAMES
    root: str
    runroot: str
    tmpdir: str
    storage_driver: str
    runtime: str
    runtime_path: str
    conmon_path: str
    init_path: str
    hooks_dirs: list[str]
    default_ulimits: list[str]
    default_capabilities: list[str]
    seccomp_profile: str
    events_logger: str
    log_level: str
    network_config_dir: str
    cgroup_manager: str
    runtime_paths: dict[str, list[str]]
    conmon_paths: list[str]

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(FIELD_NAMES)
        if unknown:
            raise TypeError(f"EngineConfig: unknown field(s) {', '.join(sorted(unknown))}")
        for name, default in _FIELD_DEFAULTS.items():
            setattr(self, name, values[name] if name in values else _fresh(default))
        if not self.tmpdir:
            self.tmpdir = os.path.join(self.runroot, "libpod", "tmp")

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELD_NAMES}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EngineConfig) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaced

    def __repr__(self) -> str:
        return "EngineConfig(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"

    # --- paths --------------------------------------------------------------------
    @property
    def db_path(self) -> str:
        return os.path.join(self.root, "state.db")

    @property
    def storage_root(self) -> str:
        return os.path.join(self.root, "storage")

    @property
    def volume_path(self) -> str:
        return os.path.join(self.root, "volumes")

    @property
    def exits_dir(self) -> str:
        return os.path.join(self.tmpdir, "exits")

    @property
    def persist_dir(self) -> str:
        return os.path.join(self.tmpdir, "persist")

    @property
    def locks_dir(self) -> str:
        return os.path.join(self.tmpdir, "locks")

    @property
    def events_log(self) -> str:
        return os.path.join(self.tmpdir, "events", "events.log")

    @property
    def alive_path(self) -> str:
        return os.path.join(self.tmpdir, "alive")

    @property
    def alive_lock_path(self) -> str:
        return os.path.join(self.tmpdir, "alive.lck")

    @property
    def runtime_root(self) -> str:
        """State root passed to the OCI runtime (``runc --root``)."""
        return os.path.join(self.runroot, self.runtime)

    def container_static_dir(self, ctr_id: str) -> str:
        """Bundle dir: config.json, ctr.log, attach, ctl, shm/."""
        return os.path.join(self.storage_root, "overlay-containers", ctr_id, "userdata")

    def container_run_dir(self, ctr_id: str) -> str:
        """hosts, resolv.conf, hostname, .containerenv, pidfile, conmon.pid."""
        return os.path.join(self.runroot, "overlay-containers", ctr_id, "userdata")

    # --- binaries -------------------------------------------------------------------
    def require_runtime_path(self) -> str:
        """The OCI runtime binary, or OCIRuntimeError naming the places searched."""
        if self.runtime_path:
            return self.runtime_path
        searched = ", ".join(self.runtime_paths.get(self.runtime, [])) or "$PATH"
        raise OCIRuntimeError(f'could not find a working binary for OCI runtime "{self.runtime}" (tried {searched})')

    def require_conmon_path(self) -> str:
        if self.conmon_path:
            return self.conmon_path
        raise OCIRuntimeError(f"could not find a working conmon binary (tried {', '.join(self.conmon_paths)})")

    def require_init_path(self) -> str:
        if self.init_path:
            return self.init_path
        raise OCIRuntimeError("could not find the init binary catatonit: install catatonit or set init_path")

    # --- reproduction -----------------------------------------------------------------
    def global_args(self) -> list[str]:
        """Global CLI options that rebuild this configuration (for conmon's exit command)."""
        runtime = self.runtime
        if self.runtime_path and self.runtime_path != _resolve_runtime(self.runtime, self.runtime_paths):
            runtime = self.runtime_path
        args = [
            "--root", self.root,
            "--runroot", self.runroot,
            "--tmpdir", self.tmpdir,
            "--storage-driver", self.storage_driver,
            "--runtime", runtime,
            "--log-level", self.log_level,
        ]  # fmt: skip
        for hooks_dir in self.hooks_dirs:
            args += ["--hooks-dir", hooks_dir]
        return args


def _resolve_runtime(name: str, runtime_paths: dict[str, list[str]]) -> str:
    return find_binary(name, tuple(runtime_paths.get(name, ())))


def _read_toml(path: str) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument(f'reading configuration file "{path}": {exc}') from exc


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    """Deep-merge tables of ``data`` into ``into``; scalars and lists replace."""
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, dict):
            into[key] = {}
            _merge(into[key], value)
        else:
            into[key] = value


def conf_files() -> list[str]:
    """containers.conf files in the order they are applied."""
    files = list(SYSTEM_CONF_FILES)
    for var in ("CONTAINERS_CONF", "CONTAINERS_CONF_OVERRIDE"):
        if os.environ.get(var):
            files.append(os.environ[var])
    return files


def read_containers_conf(files: list[str] | None = None) -> dict[str, Any]:
    """The merged containers.conf tables (only files that exist).

    The result is cached (see `_conf_cache_path`) under a key made of each file's
    inode, size and change times, so most commands skip importing and running the TOML
    parser (about 10 ms of CPU per command).  The key is taken before reading: a file
    changed meanwhile only causes a miss next time, never a stale answer.
    """
    paths = conf_files() if files is None else list(files)
    key = _conf_key(paths)
    cached = _cached_conf(key)
    if cached is not None:
        return cached
    merged: dict[str, Any] = {}
    for path in paths:
        _merge(merged, _read_toml(path))
    _store_conf(key, merged)
    return merged


_CONF_CACHE_VERSION = 1


def _conf_cache_path() -> str:
    """A per-user cache file (the user's own directory: nobody else can plant answers)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pypod", f"containers-conf-{os.getuid()}.marshal")


def _conf_key(paths: list[str]) -> tuple[Any, ...]:
    key: list[Any] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            key.append((path,))
            continue
        key.append((path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(key)


def _cached_conf(key: tuple[Any, ...]) -> dict[str, Any] | None:
    import marshal

    try:
        with open(_conf_cache_path(), "rb") as fh:
            version, stored_key, conf = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if version != _CONF_CACHE_VERSION or stored_key != key or not isinstance(conf, dict):
        return None
    return conf


def _store_conf(key: tuple[Any, ...], conf: dict[str, Any]) -> None:
    import marshal
    import time

    # "racy" entries: a file changed within the timestamp granularity could change again
    # without a visible difference in the key, so recent files are parsed every time
    recent = time.time_ns() - 2_000_000_000
    if any(len(k) > 1 and max(k[3], k[4]) > recent for k in key):
        return
    try:
        data = marshal.dumps((_CONF_CACHE_VERSION, key, conf))
    except ValueError:  # e.g. TOML dates: not cacheable, parse every time
        return
    path = _conf_cache_path()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _str_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidArgument(f"containers.conf: {key} must be a string or a list of strings")


def _apply_conf(values: dict[str, Any], conf: dict[str, Any]) -> None:
    engine = conf.get("engine", {})
    containers = conf.get("containers", {})
    network = conf.get("network", {})
    if engine.get("runtime"):
        values["runtime"] = str(engine["runtime"])
    if engine.get("conmon_path"):
        values["conmon_paths"] = _str_list(engine["conmon_path"], "engine.conmon_path")
    if engine.get("hooks_dir"):
        values["hooks_dirs"] = _str_list(engine["hooks_dir"], "engine.hooks_dir")
    if engine.get("events_logger"):
        values["events_logger"] = str(engine["events_logger"])
    if engine.get("init_path"):
        values["init_path"] = str(engine["init_path"])
    if engine.get("tmp_dir"):
        values["tmpdir"] = str(engine["tmp_dir"])
    if engine.get("cgroup_manager"):
        values["cgroup_manager"] = str(engine["cgroup_manager"])
    runtimes = engine.get("runtimes", {})
    if runtimes:
        paths = values["runtime_paths"]
        for name, candidates in runtimes.items():
            paths[name] = _str_list(candidates, f"engine.runtimes.{name}")
    if "default_ulimits" in containers:
        values["default_ulimits"] = _str_list(containers["default_ulimits"], "containers.default_ulimits")
    if "default_capabilities" in containers:
        caps = _str_list(containers["default_capabilities"], "containers.default_capabilities")
        values["default_capabilities"] = [c.upper().removeprefix("CAP_") for c in caps]
    if containers.get("seccomp_profile"):
        values["seccomp_profile"] = str(containers["seccomp_profile"])
    if network.get("network_config_dir"):
        values["network_config_dir"] = str(network["network_config_dir"])


def load_config(**overrides: Any) -> EngineConfig:
    """Defaults, then containers.conf, then the environment, then ``overrides`` (None values ignored).

    Override keys are EngineConfig field names (``root``, ``runroot``, ``tmpdir``,
    ``storage_driver``, ``runtime`` (a name or a path), ``log_level``, ``hooks_dirs``, ...).
    """
    unknown = set(overrides) - set(FIELD_NAMES)
    if unknown:
        raise TypeError(f"load_config: unknown option(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = EngineConfig().as_dict()
    values["tmpdir"] = ""
    _apply_conf(values, read_containers_conf())
    if os.environ.get("STORAGE_DRIVER"):
        values["storage_driver"] = os.environ["STORAGE_DRIVER"]

    given = {k: v for k, v in overrides.items() if v is not None}
    # A new run root without an explicit tmpdir gets its own tmpdir inside it (isolation).
    if "runroot" in given and "tmpdir" not in given:
        values["tmpdir"] = ""
    values.update(given)

    runtime = str(values["runtime"])
    if os.sep in runtime:  # --runtime /path/to/binary
        values["runtime"] = os.path.basename(runtime)
        if not given.get("runtime_path"):
            values["runtime_path"] = runtime
    elif not given.get("runtime_path"):
        values["runtime_path"] = _resolve_runtime(runtime, values["runtime_paths"])
    if not given.get("conmon_path"):
        values["conmon_path"] = find_binary("conmon", tuple(values["conmon_paths"]))
    if values["init_path"] and not os.access(values["init_path"], os.X_OK):
        values["init_path"] = ""
    if not values["init_path"]:
        values["init_path"] = find_binary("catatonit", tuple(DEFAULT_INIT_PATHS))
    if not values["seccomp_profile"]:
        values["seccomp_profile"] = next((p for p in SECCOMP_CANDIDATES if os.path.exists(p)), "")

    for key in ("root", "runroot", "tmpdir"):
        if values[key]:
            values[key] = os.path.abspath(values[key])
    config = EngineConfig(**values)
    _validate(config)
    return config


def _validate(config: EngineConfig) -> None:
    if config.storage_driver not in STORAGE_DRIVERS:
        raise InvalidArgument(
            f'unsupported storage driver "{config.storage_driver}": use one of {", ".join(STORAGE_DRIVERS)}'
        )
    if config.log_level not in LOG_LEVELS:
        raise InvalidArgument(
            f'invalid log level "{config.log_level}": use one of {", ".join(LOG_LEVELS)}'
        )
    if not config.runtime:
        raise InvalidArgument("no OCI runtime configured")
