"""The non-locking steps of the container life cycle (the seed's internal functions).

Every function here expects the caller to hold the container's lock and to have synced
it; the public, locking verbs live in `container.py`.  Nothing here waits for a process
to exit while a lock is held, except the short bounded waits of `cleanup_runtime`.
"""

from __future__ import annotations

import json
import os
import time

from pypod.errors import (
    DependencyError,
    InvalidState,
    NoSpace,
    NoSuchContainer,
    OCIRuntimeError,
    PypodError,
)
from pypod.libpod.container.model import ContainerStatus as S
from pypod.libpod.osutil import process_alive, write_atomic
from pypod.libpod.timefmt import now_rfc3339

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.container.container import Container

# States in which a container may have a live process (sync looks at them).
LIVE_STATES = (S.RUNNING, S.PAUSED, S.STOPPING, S.CREATED)
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MNT_DETACH = 2


# --- sync -----------------------------------------------------------------------------
def conmon_alive(ctr: "Container") -> bool:
    return process_alive(ctr.state.conmon_pid, "conmon")


def read_exit(ctr: "Container"):  # type: ignore[no-untyped-def]
    from pypod.libpod.oci.exitfile import read_exit as _read

    cfg = ctr.rt.config
    return _read(cfg.exits_dir, ctr.persist_dir, ctr.id)


def sync(ctr: "Container") -> None:
    """Reload from the database; for a live state, read the exit file (runtime only if needed)."""
    ctr.reload()
    if ctr.state.status not in LIVE_STATES:
        return
    old = ctr.state.status
    update_status(ctr)
    if ctr.state.status == S.STOPPING and not stopper_alive(ctr):
        resume_abandoned_stop(ctr)
    if ctr.state.status != old:
        if (
            ctr.config.restart_policy not in ("", "no")
            and old in (S.RUNNING, S.PAUSED)
            and ctr.state.status in (S.STOPPED, S.EXITED)
            and not ctr.state.stopped_by_user
        ):
            ctr.state.restart_policy_match = True
        try:
            ctr.save()
        except NoSpace as exc:  # a full disk must not break reads: the exit file stays the truth
            import logging

            logging.getLogger("pypod").warning("WARN[0000] container %s: state not saved: %s", ctr.id, exc)


def stopping_lock_path(ctr: "Container") -> str:
    return os.path.join(ctr.persist_dir, "stopping.lck")


def hold_stopping_lock(ctr: "Container") -> int:
    """A shared flock held by each `stop` waiting with the container lock released; returns its fd."""
    import fcntl

    os.makedirs(ctr.persist_dir, mode=0o700, exist_ok=True)
    fd = os.open(stopping_lock_path(ctr), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # checkers hold it exclusively only under the container lock
    except BaseException:
        os.close(fd)
        raise
    return fd


def stopper_alive(ctr: "Container") -> bool:
    """Whether a live `stop` holds the container's stopping lock (the kernel drops a dead one's)."""
    from pypod.libpod.osutil import lock_held

    return lock_held(stopping_lock_path(ctr))


def resume_abandoned_stop(ctr: "Container") -> None:
    """"stopping" whose `stop` died (kill -9): the runtime's state again (running, paused...)."""
    try:
        runtime_state = ctr.rt.oci.state(ctr.id)
    except OCIRuntimeError:
        runtime_state = None
    status = (runtime_state or {}).get("status", "stopped")
    if status == "running":
        ctr.state.status = S.RUNNING
    elif status == "paused":
        ctr.state.status = S.PAUSED
    elif status == "created":
        ctr.state.status = S.CREATED
    else:
        info = read_exit(ctr)
        if info is not None:
            apply_exit(ctr, info.code, info.finished_at, info.oom)
        else:
            apply_exit(ctr, -1, now_rfc3339(), False)


def update_status(ctr: "Container") -> None:
    """Exit file first; `runtime state` only when conmon is gone without one."""
    info = read_exit(ctr)
    if info is not None:
        apply_exit(ctr, info.code, info.finished_at, info.oom)
        return
    if conmon_alive(ctr):
        return
    try:
        runtime_state = ctr.rt.oci.state(ctr.id)
    except OCIRuntimeError:
        runtime_state = None
    status = (runtime_state or {}).get("status", "stopped")
    if status == "running" and ctr.state.status != S.STOPPING:
        ctr.state.status = S.RUNNING
    elif status == "paused":
        ctr.state.status = S.PAUSED
    elif status == "created" and ctr.state.status == S.CREATED:
        pass
    elif status in ("stopped", "created"):
        info = read_exit(ctr)  # conmon may have written it just before dying
        if info is not None:
            apply_exit(ctr, info.code, info.finished_at, info.oom)
        else:
            apply_exit(ctr, -1, now_rfc3339(), False)


def apply_exit(ctr: "Container", code: int, finished_at: str, oom: bool) -> None:
    st = ctr.state
    st.status = S.STOPPED
    st.exit_code = code
    st.finished_at = finished_at
    st.oom_killed = oom
    st.exited = True
    st.pid = 0
    ctr.event("died", containerExitCode=code)


# --- storage ----------------------------------------------------------------------------
def _libc():  # type: ignore[no-untyped-def]
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def is_mountpoint(path: str) -> bool:
    """Whether a file system is mounted at ``path`` (the shm tmpfs): its device differs from
    its parent's.  Two stats instead of a scan of /proc/self/mountinfo, which holds every
    mount of the host (hundreds with many containers)."""
    return os.path.ismount(path)


def mount_shm(ctr: "Container") -> None:
    """The container's /dev/shm: a tmpfs at <bundle>/shm of --shm-size."""
    import ctypes

    path = ctr.shm_path
    os.makedirs(path, mode=0o700, exist_ok=True)
    if is_mountpoint(path):
        return
    size = ctr.config.shm_size or 64 * 1024 * 1024
    data = f"mode=1777,size={size}".encode()
    libc = _libc()
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if libc.mount(b"shm", path.encode(), b"tmpfs", ctypes.c_ulong(flags), data) != 0:
        err = ctypes.get_errno()
        raise PypodError(f"failed to mount shm tmpfs {path}: {os.strerror(err)}")


def unmount_shm(ctr: "Container") -> None:
    path = ctr.shm_path
    while is_mountpoint(path):
        if _libc().umount2(path.encode(), MNT_DETACH) != 0:
            break


def mount_storage(ctr: "Container") -> str:
    """Mount the rootfs (once per container life) and the shm tmpfs; returns the rootfs path."""
    st = ctr.state
    if ctr.config.rootfs:
        st.mountpoint = ctr.config.rootfs
    elif not st.mounted or not st.mountpoint:
        st.mountpoint = ctr.rt.store.mount(ctr.config.rootfs_layer, volatile=ctr.config.auto_remove)
        st.mounted = True
        ctr.save()
    if ctr.config.ipc_mode in ("", "private", "shareable"):
        mount_shm(ctr)
    return st.mountpoint


def cleanup_storage(ctr: "Container", *, save: bool = True) -> None:
    """Unmount shm and the rootfs; tolerant of things already gone (``save=False``: the
    caller saves the state)."""
    unmount_shm(ctr)
    st = ctr.state
    if st.mounted and not ctr.config.rootfs:
        try:
            ctr.rt.store.unmount(ctr.config.rootfs_layer)
        except PypodError as exc:
            from pypod.errors import NoSuchLayer

            if not isinstance(exc, NoSuchLayer):
                raise
    if st.mounted or st.mountpoint:
        st.mounted = False
        st.mountpoint = ""
        if save:
            ctr.save()


# --- init ----------------------------------------------------------------------------------
def write_etc_files(ctr: "Container", net: dict[str, Any] | None = None) -> dict[str, str]:
    """hosts, resolv.conf, hostname and .containerenv in the run dir; returns their paths.

    ``net`` is `network.lifecycle.etc_files_info` of a bridge container (own IPs, gateway, DNS).
    """
    from pypod.libpod import etcfiles

    cfg = ctr.config
    net = net or {}
    run_dir = ctr.run_dir
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    hostname = effective_hostname(ctr)
    files = {
        "hosts": os.path.join(run_dir, "hosts"),
        "resolv.conf": os.path.join(run_dir, "resolv.conf"),
        "hostname": os.path.join(run_dir, "hostname"),
        ".containerenv": os.path.join(run_dir, ".containerenv"),
    }
    host_mode = cfg.network_mode == "host"
    gateway = net.get("gateway") or ("" if net.get("ips") else etcfiles.host_local_ip())
    etcfiles.write_hosts(
        files["hosts"], hostname=hostname, name=cfg.name, add_hosts=cfg.add_hosts, base_file="/etc/hosts",
        ips=net.get("ips") or (), host_gateway=gateway, own_names=not host_mode,
    )  # fmt: skip
    etcfiles.write_resolv_conf(
        files["resolv.conf"], servers=cfg.dns_servers, search=cfg.dns_search or net.get("dns_search") or (),
        options=cfg.dns_options, network_servers=net.get("dns_servers") or (),
    )  # fmt: skip
    etcfiles.write_hostname(files["hostname"], hostname)
    etcfiles.write_containerenv(
        files[".containerenv"],
        privileged=cfg.privileged,
        name=cfg.name,
        ctr_id=cfg.id,
        image=cfg.image_name,
        image_id=cfg.image_id,
    )
    return files


def image_config(ctr: "Container") -> dict[str, Any]:
    """The OCI image config of the container's image ({} for --rootfs or a removed image).

    Read once per command (init asks for it several times) straight from the image store's
    files, like ``inspect``: images.json is replaced atomically, and the image store with its
    reference parser and layer store is not imported for it.
    """
    image_id = ctr.config.image_id
    if not image_id:
        return {}
    cached = ctr.__dict__.get("_image_config")
    if cached is not None and cached[0] == image_id:
        return dict(cached[1])
    try:
        config = _read_image_config(ctr.rt.config.storage_root, image_id.removeprefix("sha256:"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        config = None
    if config is None:  # not where the image store keeps it: ask the store
        try:
            config = dict(ctr.rt.images.get(image_id).config or {})
        except PypodError:
            config = {}
    ctr.__dict__["_image_config"] = (image_id, config)
    return dict(config)


def _read_image_config(storage_root: str, image_id: str) -> dict[str, Any] | None:
    """The config of image ``image_id`` as `ImageStore.get` reads it; {} when no such image,
    None when the files are not laid out as expected (then the caller asks the store)."""
    image_dir = os.path.join(storage_root, "overlay-images")
    try:
        with open(os.path.join(image_dir, "images.json"), "rb") as f:
            records = json.load(f)
    except FileNotFoundError:
        return {}
    if not isinstance(records, list):
        return None
    if not any(isinstance(r, dict) and r.get("id") == image_id for r in records):
        return {}
    with open(os.path.join(image_dir, image_id, "config"), "rb") as f:
        config = json.load(f)
    return config if isinstance(config, dict) else None


def effective_hostname(ctr: "Container") -> str:
    """The hostname the container sees: the host's with --uts host, the other one's with container:X."""
    cfg = ctr.config
    mode = cfg.uts_mode or ""
    if mode == "host":
        return os.uname().nodename
    if mode.startswith("container:"):
        try:
            other = ctr.rt.get_container(mode[len("container:"):]).config
            return other.hostname or other.id[:12]
        except PypodError:
            pass
    return cfg.hostname or cfg.id[:12]


def _spec_config(ctr: "Container") -> Any:
    """The config the spec is made from: the hostname in effect, volume data directories as sources."""
    import dataclasses

    cfg = ctr.config
    volumes = [dict(v, source=v.get("source") or ctr.rt.volumes.mountpoint(v["name"])) if v.get("name") else v
               for v in cfg.volumes]  # fmt: skip
    return dataclasses.replace(cfg, volumes=volumes, hostname=effective_hostname(ctr))


def generate_spec(ctr: "Container", rootfs: str, files: dict[str, str]) -> dict[str, Any]:
    from pypod.libpod import spec as specmod

    generated = specmod.GeneratedFiles(
        hosts=files["hosts"],
        resolv_conf=files["resolv.conf"],
        hostname=files["hostname"],
        containerenv=files[".containerenv"],
        shm=ctr.shm_path if is_mountpoint(ctr.shm_path) else "",
    )
    for vol in ctr.config.volumes:  # named and anonymous volumes: bind their directories
        if vol.get("name"):
            vol["source"] = ctr.rt.volumes.mountpoint(vol["name"])
    return specmod.generate_spec(
        _spec_config(ctr),
        image_config(ctr),
        rootfs,
        generated,
        ctr.rt.config,
        resolve_ns=ctr.rt.namespace_path,
        netns_path=ctr.state.net_ns,
    )


def load_hooks(ctr: "Container") -> list[Any]:
    dirs = [d for d in ctr.rt.config.hooks_dirs if os.path.isdir(d)]
    if not dirs:
        return []
    from pypod.libpod import hooks

    return hooks.load_hooks(dirs)


def exit_command(ctr: "Container") -> list[str]:
    """What conmon runs when the container exits: `pypod container cleanup ID`'s work, lean (pypod/cleanup.py).

    Unless a restart policy may start the container again, the command carries the hint
    ``--unless-handled LOCK_FILE GONE_DIR``: after a `stop`, `rm` or `run --rm` has cleaned up
    (the usual case: they notice the exit first), it ends after a lock and two stats instead
    of a full engine start-up competing with the next command for the CPU and the lock.
    """
    from pypod.cleanup import HANDLED_HINT, lean_argv

    cfg = ctr.config
    args = [*ctr.rt.config.global_args(), ctr.id]
    if cfg.restart_policy in ("", "no"):
        lock_file = os.path.join(ctr.rt.config.locks_dir, str(cfg.lock_id))
        gone_dir = os.path.dirname(ctr.static_dir) if cfg.auto_remove else ""
        args = [HANDLED_HINT, lock_file, gone_dir, *args]
    return lean_argv("pypod.cleanup", "main", args)


def init(ctr: "Container", retain_retries: bool = False) -> None:
    """Configured/Exited → Created: storage, files, spec, hooks, config.json, conmon."""
    st = ctr.state
    if st.status not in (S.CONFIGURED, S.EXITED):
        raise InvalidState(
            f"container {ctr.id} has already been created in runtime: container state improper"
        )
    try:
        rootfs = mount_storage(ctr)
        copy_up_volumes(ctr, rootfs)
        check_workdir(ctr, rootfs)
        net = setup_network(ctr)
        files = write_etc_files(ctr, net)
        spec = generate_spec(ctr, rootfs, files)
        add_user_entries(ctr, rootfs)  # after the spec: the ids were resolved from the image's own files
        hooks = load_hooks(ctr)
        if hooks:
            from pypod.libpod import hooks as hookmod

            spec = hookmod.run_precreate(hooks, spec)
        os.makedirs(ctr.bundle_path, mode=0o700, exist_ok=True)
        # compact, as podman writes it (an indent would use json's pure-Python encoder)
        write_atomic(os.path.join(ctr.bundle_path, "config.json"), json.dumps(spec, separators=(",", ":")))
        from pypod.libpod.container.repair import remove_conmon_files

        remove_conmon_files(ctr)
        if os.path.isdir(os.path.join(ctr.rt.oci.state_root, ctr.id)):
            # left by a pypod killed between `runtime create` and saving "created"
            ctr.rt.oci.delete(ctr.id, force=True)
        result = start_conmon(ctr)
    except BaseException:
        try:
            cleanup_network(ctr)
        except (PypodError, OSError):
            pass
        try:
            cleanup_storage(ctr)
        except PypodError:
            pass
        raise
    st.pid = result.pid
    st.conmon_pid = result.conmon_pid
    st.status = S.CREATED
    st.exit_code = 0
    st.exited = False
    st.oom_killed = False
    st.error = ""
    st.stopped_by_user = False
    st.restart_policy_match = False
    st.run_dir = ctr.run_dir
    if not retain_retries:
        st.restart_count = 0
    ctr.save()
    ctr.event("init")


def check_workdir(ctr: "Container", rootfs: str) -> None:
    """podman's rule for ``-w``: the directory must exist in the container (the image's own
    WorkingDir is created by the runtime instead); a volume or mount provides what is below it."""
    workdir = ctr.config.workdir
    if not workdir or workdir == "/" or ctr.config.rootfs:
        return
    cfg = ctr.config
    destinations = [m.get("destination", "") for m in (*cfg.binds, *cfg.volumes, *cfg.mounts_extra)]
    destinations += list(cfg.tmpfs)
    for dest in destinations:
        dest = dest.rstrip("/")
        if dest and (workdir == dest or workdir.startswith(dest + "/")):
            return
    from pypod.errors import CommandNotExecutable
    from pypod.libpod.volumes import _resolve_in_root

    found = _resolve_in_root(rootfs, workdir)
    if found is None:
        raise CommandNotExecutable(f'workdir "{workdir}" does not exist on container {ctr.id}')
    if not os.path.isdir(found):
        raise CommandNotExecutable(f'workdir "{workdir}" exists on container {ctr.id}, but is not a directory')


def start_conmon(ctr: "Container"):  # type: ignore[no-untyped-def]
    from pypod.libpod.oci.conmon import ConmonRequest, start_conmon as _start

    cfg = ctr.rt.config
    oci = ctr.rt.oci
    req = ConmonRequest(
        ctr_id=ctr.id,
        name=ctr.name,
        bundle=ctr.bundle_path,
        runtime_path=cfg.require_runtime_path(),
        runtime_root=oci.state_root,
        exit_dir=cfg.exits_dir,
        persist_dir=ctr.persist_dir,
        log_path=ctr.log_path,
        pid_file=os.path.join(ctr.run_dir, "pidfile"),
        conmon_pid_file=os.path.join(ctr.run_dir, "conmon.pid"),
        exit_command=exit_command(ctr),
        terminal=ctr.config.tty,
        stdin=ctr.config.stdin,
        log_level=cfg.log_level,
        conmon_path=cfg.require_conmon_path(),
        runtime_name=oci.name,
        oci_log=os.path.join(ctr.run_dir, "oci-log"),
        log_tag=ctr.config.log_tag,
    )
    return _start(req)


def add_user_entries(ctr: "Container", rootfs: str) -> None:
    """Give a numeric --user (or image USER) unknown to the image its /etc/passwd and /etc/group lines."""
    if ctr.config.rootfs:  # never write into a directory the user handed us
        return
    user = ctr.config.user
    if not user and ctr.config.image_id:
        inner = image_config(ctr)
        user = ((inner.get("config", inner) if isinstance(inner, dict) else {}) or {}).get("User", "")
    if user and user[0].isdecimal():
        from pypod.libpod import spec as specmod

        specmod.add_user_entries(rootfs, user, ctr.config.workdir)


def copy_up_volumes(ctr: "Container", rootfs: str) -> None:
    """Fill new named/anonymous volumes from the image content at their destination."""
    if not ctr.config.volumes or ctr.config.rootfs:
        return
    for vol in ctr.config.volumes:
        name = vol.get("name")
        if not name or "nocopy" in (vol.get("options") or []):
            continue
        ctr.rt.volumes.copy_up(name, rootfs, vol["destination"])


# --- network -----------------------------------------------------------------------------
def _bridge_config(ctr: "Container") -> bool:
    """Whether the container has bridge networking of its own (cheap: no import for none/host)."""
    mode = ctr.config.network_mode or ""
    if mode in ("none", "host") or mode.startswith(("container:", "ns:")):
        return False
    from pypod.libpod.network.lifecycle import container_networks

    return bool(container_networks(ctr.config))


def published_ports_config(ctr: "Container") -> Any:
    """The config netavark sees: with ``-P``, every exposed port (--expose, image EXPOSE) on a random host port."""
    cfg = ctr.config
    if cfg.labels.get("io.pypod.publish-all") != "true":
        return cfg
    import dataclasses

    inner = image_config(ctr)
    inner = inner.get("config", inner) if isinstance(inner, dict) else {}
    exposed = list(cfg.expose) + list((inner or {}).get("ExposedPorts") or {})
    ports = list(cfg.ports)
    taken = {(int(p["container_port"]), p.get("protocol") or "tcp") for p in ports}
    for item in dict.fromkeys(exposed):
        port, _, proto = str(item).partition("/")
        first, _, last = port.partition("-")
        for number in range(int(first), int(last or first) + 1):
            if (number, proto or "tcp") not in taken:
                ports.append({"host_ip": "", "host_port": 0, "container_port": number, "protocol": proto or "tcp", "range": 1})
                taken.add((number, proto or "tcp"))
    return dataclasses.replace(cfg, ports=ports)


def setup_network(ctr: "Container") -> dict[str, Any] | None:
    """Bridge containers: netns + netavark; state saved; returns the etc-files info (None otherwise)."""
    if not _bridge_config(ctr):
        return None
    import types

    from pypod.libpod.network.lifecycle import etc_files_info, setup_container_network

    view = types.SimpleNamespace(config=published_ports_config(ctr), state=ctr.state, id=ctr.id)
    path, status = setup_container_network(ctr.rt, view)
    ctr.state.net_ns = path
    ctr.state.network_status = status
    ctr.save()
    return etc_files_info(status)


def cleanup_network(ctr: "Container", *, force: bool = False) -> None:
    """Leave the networks, free the addresses, remove the netns; idempotent.

    Without ``force`` only a container whose state shows a network set up is torn down;
    with it (removal) any record a crash left behind is undone too.
    """
    st = ctr.state
    if not (st.net_ns or st.network_status):
        if not force:
            return
        # the set-up record (network/lifecycle.py records_dir) is written before any netns or
        # address lease exists and dropped after all are gone: without it there is nothing to undo
        record = os.path.join(ctr.rt.config.root, "netsetup", f"{ctr.id}.json")
        if not os.path.exists(record) or not _bridge_config(ctr):
            return
    from pypod.libpod.network.lifecycle import teardown_container_network

    try:
        teardown_container_network(ctr.rt, ctr)
    finally:
        if st.net_ns or st.network_status:
            st.net_ns = ""
            st.network_status = {}
            ctr.save()


# --- start / cleanup ---------------------------------------------------------------------
def start(ctr: "Container") -> None:
    """Created → Running."""
    try:
        ctr.rt.oci.start(ctr.id, ctr.state.pid)
    except PypodError as exc:
        # a pypod killed after `runtime start` but before saving "running": it is running
        if "already running" not in str(exc):
            try:
                cleanup(ctr)
            except PypodError:
                pass
            raise
    ctr.state.status = S.RUNNING
    ctr.state.started_at = now_rfc3339()
    ctr.save()
    ctr.event("start")
    if ctr.config.healthcheck is not None:  # hook (exec+health engineer): health "starting", scheduler alive
        from pypod.libpod import healthcheck

        healthcheck.on_started(ctr)


def init_and_start(ctr: "Container", retain_retries: bool = False) -> None:
    st = ctr.state
    if st.status == S.RUNNING:
        return
    if st.status == S.PAUSED:
        raise InvalidState(f"cannot start paused container {ctr.id}: container state improper")
    if st.status in (S.UNKNOWN, S.REMOVING, S.STOPPING):
        raise InvalidState(f"container {ctr.id} is {st.status}, cannot start it: container state improper")
    if st.status == S.STOPPED:
        cleanup(ctr)
    if st.status in (S.CONFIGURED, S.EXITED):
        init(ctr, retain_retries)
    start(ctr)


def cleanup_runtime(ctr: "Container", *, save: bool = True) -> str:
    """Stopped → Exited, Created → Configured: `runtime delete --force`, poststop hooks.

    Returns the new status; with ``save=False`` the caller sets and saves it (so that
    nobody sees Exited before the storage is unmounted too) and then removes conmon's
    files (`repair.remove_conmon_files`): the exit file goes last, so an exit command that
    finds none knows the whole clean-up is done (see `pypod.cleanup`).
    """
    st = ctr.state
    if st.status not in (S.STOPPED, S.CREATED):
        return st.status
    was_created = st.status == S.CREATED
    ctr.rt.oci.delete(ctr.id, force=True)
    if was_created and conmon_alive(ctr):
        # conmon reports the killed `runc init`: let it write its exit file before we clear it
        deadline = time.monotonic() + 5
        while read_exit(ctr) is None and conmon_alive(ctr) and time.monotonic() < deadline:
            time.sleep(0.01)
    run_poststop_hooks(ctr)
    new_status = S.CONFIGURED if was_created else S.EXITED
    st.pid = 0
    if save:
        st.status = new_status
        ctr.save()
        from pypod.libpod.container.repair import remove_conmon_files

        remove_conmon_files(ctr)
    return new_status


def run_poststop_hooks(ctr: "Container") -> None:
    try:
        hooks = load_hooks(ctr)
        if not hooks:
            return
        with open(os.path.join(ctr.bundle_path, "config.json"), encoding="utf-8") as fh:
            spec = json.load(fh)
        from pypod.libpod import hooks as hookmod

        state = {
            "ociVersion": spec.get("ociVersion", "1.0.2"),
            "id": ctr.id,
            "status": "stopped",
            "bundle": ctr.bundle_path,
            "annotations": spec.get("annotations", {}),
        }
        hookmod.run_poststop(hooks, spec, state)
    except (OSError, ValueError):
        pass


def cleanup(ctr: "Container") -> None:
    """Delete the container from the runtime and unmount its storage; idempotent."""
    st = ctr.state
    if st.status in (S.RUNNING, S.PAUSED, S.STOPPING):
        raise InvalidState(
            f"container {ctr.id} is running or paused, refusing to clean up: container state improper"
        )
    changed = st.status in (S.STOPPED, S.CREATED) or st.mounted
    was_mounted = st.mounted or bool(st.mountpoint)
    errors: list[str] = []
    new_status = st.status
    runtime_deleted = False
    try:
        new_status = cleanup_runtime(ctr, save=False)
        runtime_deleted = new_status != st.status
    except PypodError as exc:
        errors.append(str(exc))
    if new_status not in (S.STOPPED, S.CREATED):  # the process is gone: its network can go
        try:
            cleanup_network(ctr)
        except PypodError as exc:
            errors.append(str(exc))
    try:
        cleanup_storage(ctr, save=False)
    except PypodError as exc:
        errors.append(str(exc))
    unmounted = was_mounted and not (st.mounted or st.mountpoint)
    if new_status != st.status or unmounted:  # one save for the status and the unmount
        st.status = new_status
        ctr.save()
    if runtime_deleted:
        # last: no exit file left tells the exit command that all of the above is done
        from pypod.libpod.container.repair import remove_conmon_files

        remove_conmon_files(ctr)
    if errors:
        raise PypodError("; ".join(errors))
    if changed:
        ctr.event("cleanup")


# --- restart policy ----------------------------------------------------------------------
def dependencies_running(ctr: "Container") -> list[str]:
    """IDs of required containers that are not running."""
    missing = []
    for dep_id in ctr.config.requires:
        try:
            dep = ctr.rt.get_container(dep_id)
        except NoSuchContainer:
            missing.append(dep_id)
            continue
        if dep.state.status != S.RUNNING:
            missing.append(dep_id)
    return missing


def should_restart(ctr: "Container") -> bool:
    cfg, st = ctr.config, ctr.state
    if cfg.restart_policy in ("", "no") or not st.restart_policy_match or st.stopped_by_user:
        return False
    if st.status not in (S.STOPPED, S.EXITED):
        return False
    if cfg.restart_policy == "on-failure":
        if st.exit_code == 0:
            return False
        if cfg.restart_retries > 0 and st.restart_count >= cfg.restart_retries:
            return False
    return not dependencies_running(ctr)


def restart_by_policy(ctr: "Container") -> None:
    """The restart policy's restart: count it, clean up, init and start again."""
    ctr.event("restart")
    ctr.state.restart_count += 1
    ctr.save()
    try:
        cleanup(ctr)
        init(ctr, retain_retries=True)
        start(ctr)
    except PypodError:
        try:
            cleanup(ctr)
        except PypodError:
            pass
        raise


# --- dependencies --------------------------------------------------------------------------
def dependency_order(ctr: "Container") -> list[str]:
    """Every (transitive) dependency of ``ctr``, dependencies first; DependencyError on a cycle."""
    order: list[str] = []
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(ctr_id: str, path: list[str]) -> None:
        if ctr_id in done:
            return
        if ctr_id in visiting:
            cycle = " -> ".join(path[path.index(ctr_id) :] + [ctr_id]) if ctr_id in path else ctr_id
            raise DependencyError(f"cycle found in container dependency graph: {cycle}")
        visiting.add(ctr_id)
        try:
            requires = ctr.config.requires if ctr_id == ctr.id else ctr.rt.get_container(ctr_id).config.requires
        except NoSuchContainer as exc:
            raise DependencyError(f"dependency {ctr_id} of container {ctr.id} not found: {exc}") from exc
        for dep in requires:
            visit(dep, path + [ctr_id])
        visiting.discard(ctr_id)
        done.add(ctr_id)
        if ctr_id != ctr.id:
            order.append(ctr_id)

    visit(ctr.id, [])
    return order


def start_dependencies(ctr: "Container") -> None:
    """Start every dependency that is not running; report all failures at once."""
    if not ctr.config.requires:
        return
    failures: list[str] = []
    failed: set[str] = set()
    for dep_id in dependency_order(ctr):
        dep = ctr.rt.get_container(dep_id)
        if any(d in failed for d in dep.config.requires):
            failed.add(dep_id)
            failures.append(f"{dep_id}: a dependency of it failed to start")
            continue
        try:
            dep.start(_dependencies_started=True)
        except PypodError as exc:
            failed.add(dep_id)
            failures.append(f"{dep_id}: {exc}")
    if failures:
        raise DependencyError(
            f"error starting some container dependencies of {ctr.id}: " + "; ".join(failures)
        )
