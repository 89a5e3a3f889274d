"""Pods: containers that share namespaces held by one infra container.

The infra container runs ``catatonit -P`` (a process that only waits) from a tiny root
filesystem pypod builds itself (``<root>/pods/infra-rootfs``: the host's catatonit plus the
mount points), so a pod needs no image.  Members join the infra's shared namespaces
(``container:INFRA_ID``) and require the infra, so starting a member starts the infra first.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from pypod.errors import (
    AlreadyExists,
    InvalidArgument,
    InvalidState,
    NoSuchContainer,
    NoSuchPod,
    PypodError,
)

from pypod.libpod.container.model import _plain_methods, plain_dict

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

    from pypod.libpod.container.container import Container
    from pypod.libpod.container.model import ContainerConfig
    from pypod.libpod.runtime import Runtime

DEFAULT_SHARE = ["ipc", "net", "uts"]
SHAREABLE = ("cgroup", "ipc", "net", "pid", "uts")
INFRA_COMMAND = ["/catatonit", "-P"]
CGROUP_PARENT = "/libpod_parent"
CGROUP_ROOT = "/sys/fs/cgroup"
MAX_PARALLEL = 8

# pod states (podman's words)
CREATED, RUNNING, DEGRADED, STOPPED, EXITED, PAUSED, ERROR = (
    "Created", "Running", "Degraded", "Stopped", "Exited", "Paused", "Error",
)  # fmt: skip


@dataclass(init=False, repr=False, eq=False)  # methods from model._plain_methods (no code to exec)
class PodConfig:
    """What `pod create` decided (immutable afterwards except infra_container_id/lock_id)."""

    id: str
    name: str
    created: str
    labels: dict[str, str] = field(default_factory=dict)
    hostname: str = ""
    infra: bool = True
    infra_image: str = ""
    infra_command: list[str] | None = None
    infra_name: str = ""
    share: list[str] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    network_mode: str = "bridge"
    networks: list[str] = field(default_factory=list)
    infra_container_id: str = ""
    lock_id: int = -1
    create_command: list[str] = field(default_factory=list)
    cgroup_parent: str = CGROUP_PARENT
    exit_policy: str = "continue"

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PodConfig":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def cgroup_path(self) -> str:
        return f"{self.cgroup_parent}/{self.id}"


@dataclass(init=False, repr=False, eq=False)  # methods from model._plain_methods
class PodState:
    """The little a pod keeps besides its containers' states."""

    cgroup_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PodState":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


_plain_methods(PodConfig)
_plain_methods(PodState)


# --- helpers ------------------------------------------------------------------------------
def parse_share(share: str | list[str] | None, infra: bool) -> list[str]:
    """``--share`` (comma list, "none" for nothing) -> sorted namespace kinds."""
    if share is None:
        return list(DEFAULT_SHARE) if infra else []
    items = [s.strip() for s in (share.split(",") if isinstance(share, str) else share)]
    items = [s for s in items if s]
    kinds: list[str] = []
    for item in items:
        if item == "none":
            continue
        if item not in SHAREABLE:
            raise InvalidArgument(
                f"invalid kernel namespace to share: {item}. Options are: cgroup, ipc, net, pid, uts or none"
            )
        if item not in kinds:
            kinds.append(item)
    if kinds and not infra:
        raise InvalidArgument(f"cannot set share({','.join(kinds)}) namespaces without an infra container")
    return sorted(kinds)


def parse_network(network: str | list[str] | None) -> tuple[str, list[str]]:
    """The pod's ``--network`` -> (mode, named networks)."""
    if not network:
        return "bridge", []
    items = [n for v in ([network] if isinstance(network, str) else network) for n in v.split(",") if n]
    first = items[0] if items else ""
    if first in ("none", "host", "bridge", "private", "slirp4netns", "pasta") or first.startswith("ns:"):
        if len(items) > 1:
            raise InvalidArgument(
                f"cannot set multiple networks without bridge network mode, selected mode {first}: invalid argument"
            )
        return first, []
    if first.startswith("container:"):
        raise InvalidArgument("pods presently do not support network mode container")
    return "bridge", items


def status_of(states: list[str]) -> str:
    """A pod's status from its containers' states, as podman derives it."""
    if not states:
        return CREATED
    n = len(states)
    running = sum(s == "running" for s in states)
    paused = sum(s == "paused" for s in states)
    exited = sum(s in ("exited", "stopped") for s in states)
    errored = sum(s in ("unknown", "removing") for s in states)
    if running == n:
        return RUNNING
    if running:
        return DEGRADED
    if paused == n:
        return PAUSED
    if paused:
        return DEGRADED
    if exited == n:
        return EXITED
    if exited:
        return STOPPED
    if errored:
        return ERROR
    return CREATED


def ensure_infra_rootfs(root: str, catatonit: str) -> str:
    """``<root>/pods/infra-rootfs`` holding /catatonit and the mount points; built once."""
    target = os.path.join(root, "pods", "infra-rootfs")
    if os.path.exists(os.path.join(target, "catatonit")):
        return target
    import shutil  # lazy: its bz2/lzma imports cost every pod command ~1.5 ms

    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    tmp = f"{target}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp, mode=0o755)
    for sub in ("dev", "proc", "sys", "etc", "run", "tmp", "dev/shm"):
        os.makedirs(os.path.join(tmp, sub), exist_ok=True)
    os.chmod(os.path.join(tmp, "tmp"), 0o1777)
    for name in ("etc/hosts", "etc/resolv.conf", "etc/hostname", "run/.containerenv"):
        open(os.path.join(tmp, name), "w").close()
    shutil.copy2(os.path.realpath(catatonit), os.path.join(tmp, "catatonit"))
    os.chmod(os.path.join(tmp, "catatonit"), 0o755)
    try:
        os.rename(tmp, target)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def remove_pod_cgroup(cgroup_path: str) -> None:
    """rmdir the pod's cgroup in every v1 hierarchy (and v2); ignores what is absent or busy."""
    rel = cgroup_path.strip("/")
    if not rel or not os.path.isdir(CGROUP_ROOT):
        return
    candidates = [os.path.join(CGROUP_ROOT, rel)]
    try:
        candidates += [os.path.join(CGROUP_ROOT, d, rel) for d in os.listdir(CGROUP_ROOT)]
    except OSError:
        pass
    for path in candidates:
        try:
            os.rmdir(path)
        except OSError:
            pass


def _parallel(items: list[Any], action: Callable[[Any], object]) -> list[tuple[Any, BaseException]]:
    """Run ``action`` on each item in threads; returns (item, error) for the failures."""
    failures: list[tuple[Any, BaseException]] = []
    if not items:
        return failures
    if len(items) == 1:
        try:
            action(items[0])
        except PypodError as exc:
            failures.append((items[0], exc))
        return failures

    def run(item: Any) -> tuple[Any, BaseException | None]:
        try:
            action(item)
            return item, None
        except PypodError as exc:
            return item, exc

    from concurrent.futures import ThreadPoolExecutor  # lazy: ~4 ms of imports (logging, queue)

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        for item, exc in pool.map(run, items):
            if exc is not None:
                failures.append((item, exc))
    return failures


def _raise_failures(verb: str, pod_id: str, failures: list[tuple[Any, BaseException]]) -> None:
    if not failures:
        return
    if len(failures) == 1:
        ctr, exc = failures[0]
        raise type(exc)(f"{verb} container {ctr.id} in pod {pod_id}: {exc}") if isinstance(exc, PypodError) else exc
    text = "; ".join(f"{ctr.id}: {exc}" for ctr, exc in failures)
    raise PypodError(f"{verb} containers in pod {pod_id}: {len(failures)} errors occurred: {text}")


# --- the pod ---------------------------------------------------------------------------------
class Pod:
    """One pod: config, state and the verbs over all its containers."""

    def __init__(self, rt: "Runtime", config: PodConfig, state: PodState) -> None:
        self.rt = rt
        self.config = config
        self.state = state

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def infra_id(self) -> str:
        return self.config.infra_container_id

    def __repr__(self) -> str:
        return f"<Pod {self.id[:12]} {self.name}>"

    def lock(self) -> AbstractContextManager[None]:
        return self.rt.locks.lock(self.config.lock_id)

    def reload(self) -> None:
        config, state = self.rt.db.get_pod(self.id)
        self.config = PodConfig.from_dict(config)
        self.state = PodState.from_dict(state)

    def event(self, status: str) -> None:
        try:
            self.rt.events.write("pod", status, id=self.id, name=self.name)
        except OSError:  # an event that cannot be written never fails the operation
            pass

    # --- members ---------------------------------------------------------------------------
    def containers(self) -> list["Container"]:
        """Every container of the pod (infra included), states synced like ``ps``."""
        return self.rt._synced_containers(self.rt.db.pod_containers(self.id))

    def infra(self) -> "Container | None":
        if not self.infra_id:
            return None
        try:
            return self.rt.get_container(self.infra_id)
        except NoSuchContainer:
            return None

    def _split(self) -> tuple[list["Container"], "Container | None"]:
        members, infra = [], None
        for ctr in self.containers():
            if ctr.id == self.infra_id:
                infra = ctr
            else:
                members.append(ctr)
        return members, infra

    def status(self, containers: list["Container"] | None = None) -> str:
        ctrs = self.containers() if containers is None else containers
        return status_of([c.state.status for c in ctrs])

    # --- verbs -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the infra container, then every other container (dependencies first)."""
        members, infra = self._split()
        if infra is not None:
            try:
                infra.start()
            except PypodError as exc:
                raise type(exc)(f"starting infra container {infra.id} of pod {self.id}: {exc}") from exc
        failures: list[tuple[Any, BaseException]] = []
        for ctr in members:
            try:
                ctr.start()
            except PypodError as exc:
                failures.append((ctr, exc))
        self.event("start")
        _raise_failures("starting", self.id, failures)

    def stop(self, timeout: int | None = None) -> None:
        """Stop the members in parallel, then the infra container."""
        members, infra = self._split()
        failures = _parallel(members, lambda c: c.stop(timeout))
        if infra is not None:
            try:
                infra.stop(timeout)
            except PypodError as exc:
                failures.append((infra, exc))
        self.event("stop")
        _raise_failures("stopping", self.id, failures)

    def restart(self, timeout: int | None = None) -> None:
        self.stop(timeout)
        self.start()
        self.event("restart")

    def kill(self, signal: int = 9) -> None:
        """Send ``signal`` to every running container (members first)."""
        members, infra = self._split()
        targets = [c for c in members + ([infra] if infra else []) if c.state.status in ("running", "paused")]
        if not targets:
            return  # podman 4.3.1: nothing running is nothing to kill, not an error
        failures = []
        for ctr in targets:
            try:
                ctr.kill(signal)
            except PypodError as exc:
                failures.append((ctr, exc))
        self.event("kill")
        _raise_failures("killing", self.id, failures)

    def pause(self) -> None:
        failures = []
        for ctr in self.containers():
            if ctr.state.status == "running":
                try:
                    ctr.pause()
                except PypodError as exc:
                    failures.append((ctr, exc))
        self.event("pause")
        _raise_failures("pausing", self.id, failures)

    def unpause(self) -> None:
        failures = []
        for ctr in self.containers():
            if ctr.state.status == "paused":
                try:
                    ctr.unpause()
                except PypodError as exc:
                    failures.append((ctr, exc))
        self.event("unpause")
        _raise_failures("unpausing", self.id, failures)

    def remove(self, *, force: bool = False, timeout: int | None = None) -> list[str]:
        """Remove every container (members, then the infra) and the pod; returns the container IDs.

        Without ``force`` a running or paused member refuses the removal (the infra does not).
        """
        members, infra = self._split()
        if not force:
            for ctr in members:
                if ctr.state.status in ("running", "paused", "stopping", "unknown"):
                    raise InvalidState(
                        f"removing container {ctr.id} from pod {self.id}: cannot remove container {ctr.id} "
                        f"as it is {ctr.state.status} - running or paused containers cannot be removed "
                        "without force: container state improper"
                    )
        removed: list[str] = []
        stop_first = [c for c in members if c.state.status in ("running", "paused", "stopping")]
        failures = _parallel(stop_first, lambda c: c.stop(timeout))
        for ctr in members:
            try:
                removed += ctr.remove(force=True, timeout=timeout, depend=True)
            except NoSuchContainer:
                continue
            except PypodError as exc:
                failures.append((ctr, exc))
        if failures:
            _raise_failures("removing", self.id, failures)
        if infra is not None:
            try:
                removed += infra.remove(force=True, timeout=timeout, depend=True)
            except NoSuchContainer:
                pass
        for ctr in self.containers():  # joined meanwhile, or left by a failed removal
            removed += ctr.remove(force=True, timeout=timeout, depend=True)
        self.rt.db.remove_pod(self.id)
        remove_pod_cgroup(self.config.cgroup_path)
        self.event("remove")
        return removed

    # --- inspection ----------------------------------------------------------------------------
    def inspect(self) -> dict[str, Any]:
        """podman's `pod inspect` object (key names and order)."""
        cfg = self.config
        ctrs = self.containers()
        infra_cfg = None
        for ctr in ctrs:
            if ctr.id == cfg.infra_container_id:
                infra_cfg = ctr.config
        data: dict[str, Any] = {
            "Id": cfg.id,
            "Name": cfg.name,
            "Created": cfg.created,
            "CreateCommand": list(cfg.create_command) or None,
            "ExitPolicy": cfg.exit_policy,
            "State": self.status(ctrs),
            "Hostname": cfg.hostname,
        }
        if cfg.labels:
            data["Labels"] = dict(cfg.labels)
        data.update(
            {
                "CreateCgroup": True,
                "CgroupParent": cfg.cgroup_parent,
                "CgroupPath": cfg.cgroup_path,
                "CreateInfra": cfg.infra,
                "InfraContainerID": cfg.infra_container_id,
            }
        )
        if cfg.infra:
            data["InfraConfig"] = {
                "PortBindings": _port_bindings(cfg.ports),
                "HostNetwork": cfg.network_mode == "host",
                "StaticIP": "",
                "StaticMAC": "",
                "NoManageResolvConf": False,
                "DNSServer": None,
                "DNSSearch": None,
                "DNSOption": None,
                "NoManageHosts": False,
                "HostAdd": None,
                "Networks": list(cfg.networks) or None,
                "NetworkOptions": None,
                "pid_ns": "private" if infra_cfg is None or not infra_cfg.pid_mode else infra_cfg.pid_mode,
                "userns": "host",
                "uts_ns": "private",
            }
        if cfg.share:
            data["SharedNamespaces"] = list(cfg.share)
        data["NumContainers"] = len(ctrs)
        data["Containers"] = [{"Id": c.id, "Name": c.name, "State": _display(c.state.status)} for c in ctrs]
        return data


def _display(status: str) -> str:
    from pypod.libpod.container.model import ContainerStatus

    return ContainerStatus.display(status)


def _port_bindings(ports: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for p in ports:
        key = f"{p.get('container_port')}/{p.get('protocol') or 'tcp'}"
        out.setdefault(key, []).append(
            {"HostIp": p.get("host_ip") or "", "HostPort": str(p.get("host_port") or "")}
        )
    return out


# --- the collection ------------------------------------------------------------------------
class PodStore:
    """Create, find, list and remove pods of one Runtime."""

    def __init__(self, rt: "Runtime") -> None:
        self.rt = rt

    def _pod(self, config: dict[str, Any], state: dict[str, Any]) -> Pod:
        return Pod(self.rt, PodConfig.from_dict(config), PodState.from_dict(state))

    def get(self, name_or_id: str) -> Pod:
        """By full ID, exact name or unique ID prefix (NoSuchPod with podman's words)."""
        try:
            pod_id = self.rt.db.lookup_pod(name_or_id)
        except NoSuchPod:
            raise NoSuchPod(f"no pod with name or ID {name_or_id} found: no such pod") from None
        config, state = self.rt.db.get_pod(pod_id)
        return self._pod(config, state)

    def exists(self, name_or_id: str) -> bool:
        try:
            self.rt.db.lookup_pod(name_or_id)
            return True
        except NoSuchPod:
            return False

    def list(self) -> list[Pod]:
        return [self._pod(c, s) for c, s in self.rt.db.all_pods()]

    def create(
        self,
        name: str | None = None,
        *,
        infra: bool = True,
        infra_image: str | None = None,
        infra_command: list[str] | None = None,
        infra_name: str | None = None,
        share: str | list[str] | None = None,
        ports: list[dict[str, Any]] | None = None,
        network: str | list[str] | None = None,
        hostname: str | None = None,
        labels: dict[str, str] | None = None,
        create_command: list[str] | None = None,
        replace: bool = False,
    ) -> Pod:
        """Create a pod and (unless ``infra=False``) its infra container; returns the Pod."""
        from pypod.libpod.container import lifecycle
        from pypod.libpod.container.names import random_name
        from pypod.libpod.runtime import NAME_RE

        if name and not NAME_RE.match(name):
            raise InvalidArgument("running pod create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")
        shared = parse_share(share, infra)
        mode, networks = parse_network(network)
        if not infra and (ports or network):
            raise InvalidArgument("you must have an infra container to publish port bindings or set networks")
        if ports and mode in ("none", "host"):
            raise InvalidArgument("PortMappings can only be used with Bridge or slirp4netns networking")
        if replace and name and self.exists(name):
            existing = self.get(name)
            if existing.name == name:
                existing.remove(force=True)
        cfg = PodConfig(
            id=os.urandom(32).hex(),
            name=name or "",
            created=lifecycle.now_rfc3339(),
            labels=dict(labels or {}),
            hostname=hostname or "",
            infra=infra,
            infra_image=infra_image or "",
            infra_command=list(infra_command) if infra_command else None,
            infra_name=infra_name or "",
            share=shared,
            ports=list(ports or []),
            network_mode=mode,
            networks=networks,
            create_command=list(create_command or []),
        )
        db = self.rt.db
        for attempt in range(20):
            if not name:
                cfg.name = random_name()
            try:
                cfg.lock_id = db.add_pod(cfg.id, cfg.name, cfg.to_dict(), PodState().to_dict())
                break
            except AlreadyExists:
                if name or attempt == 19:
                    raise
        pod = Pod(self.rt, cfg, PodState())
        if infra:
            try:
                ctr = self.rt.create_container(self._infra_config(cfg))
            except BaseException:
                try:
                    db.remove_pod(cfg.id)
                except PypodError:
                    pass
                raise
            cfg.infra_container_id = ctr.id
            db.save_pod_config(cfg.id, cfg.to_dict())
        pod.event("create")
        return pod

    def _infra_config(self, pod: PodConfig) -> "ContainerConfig":
        from pypod.libpod.container.model import ContainerConfig

        cfg = ContainerConfig(
            id="",
            name=pod.infra_name or f"{pod.id[:12]}-infra",
            created="",
            pod_id=pod.id,
            is_infra=True,
            hostname=pod.hostname or pod.name,
            network_mode=pod.network_mode,
            networks=list(pod.networks),
            ports=list(pod.ports),
            cgroup_parent=pod.cgroup_path,
            stop_timeout=10,
        )
        if "pid" in pod.share:
            cfg.pid_mode = ""
        if pod.infra_image:
            cfg.raw_image_name = pod.infra_image
            cfg.command = list(pod.infra_command) if pod.infra_command else None
        else:
            catatonit = self.rt.config.require_init_path()
            cfg.rootfs = ensure_infra_rootfs(self.rt.config.root, catatonit)
            cfg.read_only = True
            cfg.entrypoint = list(pod.infra_command) if pod.infra_command else list(INFRA_COMMAND)
            cfg.command = []
        return cfg

    def remove(self, pod: "Pod | str", *, force: bool = False, timeout: int | None = None) -> list[str]:
        if isinstance(pod, str):
            pod = self.get(pod)
        return pod.remove(force=force, timeout=timeout)

    def prune(self) -> list[str]:
        """Remove every pod whose containers are all stopped; returns the pod IDs."""
        removed = []
        for pod in self.list():
            if pod.status() in (EXITED, STOPPED):
                try:
                    pod.remove(force=True)
                except NoSuchPod:
                    continue
                removed.append(pod.id)
        return removed

    def remove_all(self, timeout: int | None = 0) -> list[str]:
        """Force-remove every pod (system reset); returns the pod IDs."""
        removed = []
        for pod in self.list():
            try:
                pod.remove(force=True, timeout=timeout)
            except NoSuchPod:
                continue
            removed.append(pod.id)
        return removed


# --- containers joining a pod ------------------------------------------------------------------
def join_pod(rt: "Runtime", cfg: "ContainerConfig") -> None:
    """Make ``cfg`` a member of its pod: shared namespaces of the infra, requires the infra."""
    pod = rt.pods.get(cfg.pod_id)
    cfg.pod_id = pod.id
    infra_id = pod.infra_id
    if not infra_id:
        return
    share = pod.config.share
    target = f"container:{infra_id}"
    if "net" in share:
        if cfg.ports:
            raise InvalidArgument(
                "invalid config provided: published or exposed ports must be defined when the pod is created: "
                "network cannot be configured when it is shared with a pod"
            )
        cfg.network_mode = target
        cfg.networks = []
        cfg.network_aliases = {}
    if "ipc" in share:
        cfg.ipc_mode = target
    if "uts" in share:
        cfg.uts_mode = target
        cfg.hostname = pod.config.hostname or pod.name
    if "pid" in share:
        cfg.pid_mode = target
    if not cfg.cgroup_parent:
        cfg.cgroup_parent = pod.config.cgroup_path
    if infra_id not in cfg.requires:
        cfg.requires.append(infra_id)


def resolve_pod_flag(rt: "Runtime", value: str) -> str:
    """``--pod NAME`` -> pod ID; ``--pod new:NAME`` creates the pod first."""
    if value.startswith("new:"):
        name = value[len("new:") :]
        if not name:
            raise InvalidArgument("new pod name must be at least one character")
        return rt.pods.create(name).id
    return rt.pods.get(value).id
