"""Bringing containers back to a consistent state: after a reboot, and when removing.

Each step is idempotent, so that a removal interrupted by a crash (state Removing) or a
refresh interrupted half-way is simply done again by the next command.
"""

from __future__ import annotations

import os

from pypod.errors import NoSuchLayer, NotFound, PypodError
from pypod.libpod.container.model import ContainerStatus as S
from pypod.libpod.osutil import remove_tree

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.container.container import Container


EXIT_CODE_KEEP_SECONDS = 300


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        pass


def _retire_exit_file(ctr: "Container") -> None:
    """Rename ``exits/<id>`` to ``exits/<id>-old`` (removed when renaming fails)."""
    exits = ctr.rt.config.exits_dir
    exit_file = os.path.join(exits, ctr.id)
    if os.path.exists(exit_file):
        try:
            os.replace(exit_file, os.path.join(exits, f"{ctr.id}-old"))
        except OSError:
            _unlink(exit_file)


def remove_conmon_files(ctr: "Container") -> None:
    """Attach socket, ctl fifo, oom marker and the exit files of the last run."""
    for name in ("attach", "ctl", "winsz", "oom"):
        _unlink(os.path.join(ctr.bundle_path, name))
    _retire_exit_file(ctr)
    for name in ("exit", "oom"):
        _unlink(os.path.join(ctr.persist_dir, name))


def reset_state(ctr: "Container") -> None:
    """The state after a reboot: nothing runs, nothing is mounted (not saved here)."""
    st = ctr.state
    if st.status in (S.RUNNING, S.PAUSED, S.STOPPED, S.STOPPING, S.EXITED):
        if st.status != S.EXITED and not st.exited:
            st.exited = True
        st.status = S.EXITED
    elif st.status != S.REMOVING:
        st.status = S.CONFIGURED
    st.pid = 0
    st.conmon_pid = 0
    st.mounted = False
    st.mountpoint = ""
    st.net_ns = ""
    st.network_status = {}
    st.exec_ids = []
    st.stopped_by_user = False
    st.restart_policy_match = False
    st.restart_count = 0
    st.health_status = ""
    st.health_failing_streak = 0
    st.run_dir = ctr.run_dir


def refresh_container(ctr: "Container") -> bool:
    """Reset one container after a reboot; returns True when it must be removed instead."""
    if ctr.state.status == S.REMOVING:
        return True
    reset_state(ctr)
    os.makedirs(ctr.run_dir, mode=0o700, exist_ok=True)
    remove_conmon_files(ctr)
    db = ctr.rt.db
    exec_sessions_of = getattr(db, "exec_sessions_of", None)
    if exec_sessions_of is not None:
        for session in exec_sessions_of(ctr.id):
            session_id = session if isinstance(session, str) else getattr(session, "id", None)
            if session_id is None and isinstance(session, dict):
                session_id = session.get("id")
            if session_id:
                try:
                    db.remove_exec_session(session_id)
                except NotFound:
                    pass
    ctr.save()
    return ctr.config.auto_remove and ctr.state.status == S.EXITED


def teardown(ctr: "Container") -> None:
    """Delete everything of a container that is Removing, except its database row."""
    rt = ctr.rt
    # runc keeps a directory per container in its state root: without it there is nothing to
    # delete, and a `runtime delete` costs a process start (usual case: stop already did it)
    if os.path.lexists(os.path.join(rt.config.runtime_root, ctr.id)):
        try:
            rt.oci.delete(ctr.id, force=True)
        except PypodError:
            pass
    from pypod.libpod.container.lifecycle import cleanup_network, unmount_shm

    try:
        cleanup_network(ctr, force=True)
    except (PypodError, OSError):
        pass
    unmount_shm(ctr)
    if ctr.config.rootfs_layer:
        store = rt.store
        try:
            store.unmount(ctr.config.rootfs_layer, force=True)
        except NoSuchLayer:
            pass
        try:
            store.delete_layer(ctr.config.rootfs_layer)
        except NoSuchLayer:
            pass
    for directory in (ctr.static_dir, ctr.run_dir):
        parent = os.path.dirname(directory)  # .../overlay-containers/<id>
        target = parent if os.path.basename(parent) == ctr.id else directory
        remove_tree(target)
    keep_exit_code(ctr)
    remove_tree(ctr.persist_dir)


def keep_exit_code(ctr: "Container") -> None:
    """Leave ``exits/<id>-old`` for a while (an attached `run --rm` reads it after removal)."""
    import time

    _retire_exit_file(ctr)
    exits = ctr.rt.config.exits_dir
    try:
        names = os.listdir(exits)
    except OSError:
        return
    too_old = time.time() - EXIT_CODE_KEEP_SECONDS
    for name in names:
        if name.endswith("-old"):
            path = os.path.join(exits, name)
            try:
                if os.stat(path).st_mtime < too_old:
                    os.unlink(path)
            except OSError:
                pass


def _decode(text: str) -> dict:
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _layer_of_corrupt(rt, ctr_id: str, config_text: str, state: dict) -> str:  # type: ignore[no-untyped-def]
    """The rw layer of a container whose config does not decode ("" when it cannot be told).

    In order: the ID still readable in the damaged text; the layer mounted at the state's
    mountpoint; the one container layer no other container uses that was made right before
    the container's static directory (create makes the layer, then that directory).
    """
    import calendar
    import re
    import time

    found = re.search(r'"rootfs_layer"\s*:\s*"([0-9a-f]{64})"', config_text)
    if found:
        return found.group(1)
    try:
        layers = [layer for layer in rt.store.layers() if layer.kind == "container"]
    except PypodError:
        return ""
    mountpoint = str(state.get("mountpoint") or "")
    for layer in layers:
        if mountpoint and layer.id in mountpoint:
            return layer.id
    used = {str(c.get("rootfs_layer") or "") for c, _s in rt.db.all_containers()}
    try:
        made = os.stat(os.path.dirname(rt.config.container_static_dir(ctr_id))).st_mtime
    except OSError:
        return ""
    best, best_gap = "", 31.0
    for layer in layers:
        if layer.id in used:
            continue
        try:
            created = calendar.timegm(time.strptime(layer.created, "%Y-%m-%dT%H:%M:%SZ"))
        except (ValueError, OverflowError):
            continue
        gap = made - created
        if -2.0 <= gap < best_gap:  # `created` has whole seconds
            best, best_gap = layer.id, gap
    return best


def remove_corrupt(rt, ctr_id: str) -> None:  # type: ignore[no-untyped-def]
    """`rm -f` of a container whose database row does not decode: remove what its ID finds.

    The row, its name and lock number go; so do the runtime container, mounts, rw layer (when
    it can be told, see `_layer_of_corrupt`), static/run/persist directories and exit files.
    """
    from pypod.libpod.container.container import Container
    from pypod.libpod.container.model import ContainerConfig, ContainerState

    config_text, state_text, lock_id = rt.db.raw_container(ctr_id)
    with rt.locks.lock(lock_id):
        state = _decode(state_text)
        layer = _layer_of_corrupt(rt, ctr_id, config_text, state)
        try:
            ctr_state = ContainerState.from_dict(state)
        except (TypeError, ValueError):
            ctr_state = ContainerState()
        ctr = Container(rt, ContainerConfig(id=ctr_id, name="", created="", rootfs_layer=layer, lock_id=lock_id), ctr_state)
        try:
            teardown(ctr)
        except (PypodError, OSError):
            pass  # whatever is left is found by the storage's gc; the row must go anyway
        rt.db.remove_container(ctr_id)
