"""`Runtime`: the engine's entry point (configuration, database, locks, storage, containers).

Every part is built lazily on first use, so a command pays only for what it touches.
The first database use of a boot runs `refresh` (see `refresh.py`).
"""

from __future__ import annotations

import os
import re

from pypod.errors import (
    AlreadyExists,
    InvalidArgument,
    InvalidState,
    NoSuchContainer,
    NotFound,
    PypodError,
)

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.config import EngineConfig
    from pypod.libpod.container.container import Container
    from pypod.libpod.container.model import ContainerConfig
    from pypod.libpod.events import EventLog
    from pypod.libpod.lock.manager import LockManager
    from pypod.libpod.oci.runtime import OCIRuntime
    from pypod.libpod.pod import Pod, PodStore
    from pypod.libpod.state.db import Database
    from pypod.libpod.storage.images import ImageStore
    from pypod.libpod.storage.store import Store
    from pypod.libpod.volumes import VolumeStore

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
NAME_ATTEMPTS = 20


class Runtime:
    """One engine on one set of directories (``--root``, ``--runroot``, ``--tmpdir``)."""

    def __init__(
        self,
        root: str | None = None,
        runroot: str | None = None,
        tmpdir: str | None = None,
        storage_driver: str | None = None,
        runtime: str | None = None,
        log_level: str | None = None,
        hooks_dirs: list[str] | None = None,
        network_config_dir: str | None = None,
        conmon_path: str | None = None,
        **config_overrides: Any,
    ) -> None:
        self._overrides: dict[str, Any] = dict(
            root=root,
            runroot=runroot,
            tmpdir=tmpdir,
            storage_driver=storage_driver,
            runtime=runtime,
            log_level=log_level,
            hooks_dirs=list(hooks_dirs) if hooks_dirs else None,
            network_config_dir=network_config_dir,
            conmon_path=conmon_path,
            **config_overrides,
        )
        self._config: EngineConfig | None = None
        self._db: Database | None = None
        self._refreshing = False
        self._locks: LockManager | None = None
        self._store: Store | None = None
        self._images: ImageStore | None = None
        self._oci: OCIRuntime | None = None
        self._events: EventLog | None = None
        self._volumes: VolumeStore | None = None

    # --- lazy parts ------------------------------------------------------------------------
    @property
    def config(self) -> "EngineConfig":
        if self._config is None:
            from pypod.libpod.config import load_config

            self._config = load_config(**self._overrides)
        return self._config

    @property
    def db(self) -> "Database":
        if self._db is None:
            from pypod.libpod import refresh
            from pypod.libpod.state.db import Database

            cfg = self.config
            self._db = Database(cfg.db_path, root=cfg.root, runroot=cfg.runroot, storage_driver=cfg.storage_driver)
            if not self._refreshing:
                self._refreshing = True
                try:
                    refresh.ensure_refreshed(cfg, self.refresh)
                finally:
                    self._refreshing = False
        return self._db

    @property
    def locks(self) -> "LockManager":
        if self._locks is None:
            from pypod.libpod.lock.manager import LockManager

            self._locks = LockManager(self.config.locks_dir)
        return self._locks

    @property
    def store(self) -> "Store":
        if self._store is None:
            from pypod.libpod.storage.store import Store

            cfg = self.config
            _ = self.db  # refuses a root created with other paths or another storage driver
            self._store = Store(cfg.storage_root, cfg.runroot, cfg.storage_driver)
        return self._store

    @property
    def images(self) -> "ImageStore":
        if self._images is None:
            from pypod.libpod.storage.images import ImageStore

            self._images = ImageStore(self.store)
        return self._images

    @property
    def oci(self) -> "OCIRuntime":
        if self._oci is None:
            from pypod.libpod.oci.runtime import OCIRuntime

            cfg = self.config
            self._oci = OCIRuntime(cfg.runtime, cfg.require_runtime_path(), cfg.runtime_root, cfg.log_level)
        return self._oci

    @property
    def events(self) -> "EventLog":
        if self._events is None:
            from pypod.libpod.events import EventLog

            self._events = EventLog(self.config.events_log)
        return self._events

    @property
    def volumes(self) -> "VolumeStore":
        if self._volumes is None:
            from pypod.libpod.volumes import VolumeStore

            self._volumes = VolumeStore(self)
        return self._volumes

    @property
    def pods(self) -> "PodStore":
        """Pods (libpod/pod.py), built on first use."""
        store = self.__dict__.get("_pods")
        if store is None:
            from pypod.libpod.pod import PodStore

            store = self._pods = PodStore(self)
        return store

    def get_pod(self, name_or_id: str) -> "Pod":
        """By full ID, exact name or unique ID prefix (NoSuchPod with podman's words)."""
        return self.pods.get(name_or_id)

    def close(self) -> None:
        """Close the database (the object can be used again: parts reopen lazily)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- containers ---------------------------------------------------------------------------
    def _container(self, config: dict[str, Any], state: dict[str, Any]) -> "Container":
        from pypod.libpod.container.container import Container
        from pypod.libpod.container.model import ContainerConfig, ContainerState

        return Container(self, ContainerConfig.from_dict(config), ContainerState.from_dict(state))

    def get_container(self, name_or_id: str) -> "Container":
        """By full ID, exact name or unique ID prefix (NoSuchContainer with podman's words)."""
        ctr_id = self.db.lookup_container(name_or_id)
        config, state = self.db.get_container(ctr_id)
        return self._container(config, state)

    container = get_container

    def list_containers(self) -> list["Container"]:
        """Every container (one query); live ones are synced when their exit file exists."""
        records = self.db.all_containers()
        if not records:
            return []  # no container modules (dataclasses...) to import for an empty listing
        return self._synced_containers(records)

    def _synced_containers(self, records: list[tuple[Any, Any]]) -> list["Container"]:
        """Containers of (config, state) rows; live ones whose process ended are synced."""
        from pypod.libpod.container import lifecycle

        result = []
        for config, state in records:
            ctr = self._container(config, state)
            if ctr.state.status in lifecycle.LIVE_STATES and (
                lifecycle.read_exit(ctr) is not None or not lifecycle.conmon_alive(ctr)
            ):
                try:
                    with ctr.lock():
                        lifecycle.sync(ctr)
                except NoSuchContainer:
                    continue
            result.append(ctr)
        return result

    def containers(self, all: bool = True) -> list["Container"]:  # noqa: A002
        from pypod.libpod.container.model import ContainerStatus as S

        ctrs = self.list_containers()
        return ctrs if all else [c for c in ctrs if c.state.status == S.RUNNING]

    def dependents_of(self, ctr_id: str) -> list[str]:
        """IDs of the containers that require ``ctr_id``."""
        return [c["id"] for c in self.db.container_configs_mentioning(ctr_id) if ctr_id in (c.get("requires") or [])]

    def remove_container(
        self,
        ctr: "Container | str",
        *,
        force: bool = False,
        volumes: bool = False,
        timeout: int | None = None,
        depend: bool = False,
    ) -> list[str]:
        """Remove a container; returns the IDs removed (dependents first with ``depend``).

        With ``force``, a container whose database row does not decode is removed by its ID.
        """
        if isinstance(ctr, str):
            from pypod.errors import DatabaseError

            try:
                ctr = self.get_container(ctr)
            except DatabaseError as exc:
                if not force or "corrupt record" not in str(exc):
                    raise
                from pypod.libpod.container.repair import remove_corrupt

                ctr_id = self.db.lookup_container(ctr)
                remove_corrupt(self, ctr_id)
                return [ctr_id]
        return ctr.remove(force=force, volumes=volumes, timeout=timeout, depend=depend)

    def namespace_path(self, kind: str, name_or_id: str) -> str:
        """``/proc/<pid>/ns/<kind>`` of a running container (for --pid/--ipc/--uts/--network container:X)."""
        from pypod.libpod.container.model import ContainerStatus as S

        ctr = self.get_container(name_or_id)
        ctr.sync()
        if ctr.state.status not in (S.RUNNING, S.PAUSED, S.CREATED) or ctr.state.pid <= 0:
            raise InvalidState(
                f"container {ctr.id} is not running, cannot join its {kind} namespace: container state improper"
            )
        proc_name = {"network": "net"}.get(kind, kind)  # the spec says "network", /proc says "net"
        return f"/proc/{ctr.state.pid}/ns/{proc_name}"

    def handle_exit(self, ctr_id: str) -> None:
        """conmon's exit command: restart policy, cleanup, --rm (races are ignored)."""
        from pypod.libpod.container.container import handle_exit

        handle_exit(self, ctr_id)

    # --- create ---------------------------------------------------------------------------------
    def create_container(self, cfg: "ContainerConfig") -> "Container":
        """Fill id/name/created, resolve the image, make the rw layer, volumes and the DB row."""
        # the rw layer and the container's directories stay safe from gc until the DB row exists
        with self.store.creating():
            return self._create_container(cfg)

    def _create_container(self, cfg: "ContainerConfig") -> "Container":
        from pypod.libpod.container import lifecycle
        from pypod.libpod.container.model import ContainerState
        from pypod.libpod.container.names import random_name

        if not cfg.id:
            cfg.id = os.urandom(32).hex()
        if cfg.name and not NAME_RE.match(cfg.name):
            raise InvalidArgument("names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")
        cfg.created = cfg.created or lifecycle.now_rfc3339()
        if cfg.pod_id and not cfg.is_infra:
            from pypod.libpod.pod import join_pod

            join_pod(self, cfg)  # shared namespaces of the infra container, which it requires
        cfg.requires = self._resolve_requires(cfg.requires)
        image = None
        if not cfg.rootfs:
            image = self._resolve_image(cfg)
        if not cfg.log_path:
            cfg.log_path = os.path.join(self.config.container_static_dir(cfg.id), "ctr.log")
        if image is not None:
            self._add_image_volumes(cfg, image.config)
        created_volumes: list[str] = []
        layer = ""
        try:
            self._prepare_volumes(cfg, created_volumes)
            if image is not None:
                layer = self.store.create_container_layer(image.top_layer or None)
                cfg.rootfs_layer = layer
            for directory in (self.config.container_static_dir(cfg.id), self.config.container_run_dir(cfg.id)):
                os.makedirs(directory, mode=0o700, exist_ok=True)
            state = ContainerState(run_dir=self.config.container_run_dir(cfg.id))
            generated = not cfg.name
            for attempt in range(NAME_ATTEMPTS):
                if generated:
                    cfg.name = random_name() if attempt < NAME_ATTEMPTS // 2 else f"{random_name()}_{os.urandom(2).hex()}"
                try:
                    cfg.lock_id = self.db.add_container(cfg.id, cfg.name, cfg.pod_id or None, cfg.to_dict(), state.to_dict())
                    break
                except AlreadyExists:
                    if not generated or attempt == NAME_ATTEMPTS - 1:
                        raise
        except BaseException:
            self._rollback_create(cfg, layer, created_volumes)
            raise
        ctr = self._container(cfg.to_dict(), state.to_dict())
        ctr.event("create")
        return ctr

    def _resolve_requires(self, requires: list[str]) -> list[str]:
        ids: list[str] = []
        for ref in requires:
            ctr_id = self.db.lookup_container(ref)
            if ctr_id not in ids:
                ids.append(ctr_id)
        return ids

    def _resolve_image(self, cfg: "ContainerConfig") -> Any:
        from pypod.libpod.storage import reference as refs
        from pypod.libpod.storage.images import ImageStore

        ref = cfg.image_name or cfg.raw_image_name or cfg.image_id
        if not ref:
            raise InvalidArgument("no image or rootfs given for the container")
        image = self.images.resolve(ref)
        cfg.raw_image_name = cfg.raw_image_name or ref
        cfg.image_id = image.id
        name = ""
        try:
            wanted = refs.parse(ref)
        except PypodError:
            wanted = None
        if wanted is not None and not refs.looks_like_id(ref):
            for candidate in image.names:
                if ImageStore._match_name(wanted, [{"names": [candidate]}]) is not None:
                    name = candidate
                    break
        cfg.image_name = name or (image.names[0] if image.names else image.id)
        return image

    @staticmethod
    def _add_image_volumes(cfg: "ContainerConfig", image_config: dict[str, Any]) -> None:
        """The image's VOLUME entries become anonymous volumes unless already covered."""
        inner = image_config.get("config", image_config) if isinstance(image_config, dict) else {}
        declared = (inner or {}).get("Volumes") or {}
        taken = {os.path.normpath(v.get("destination", "")) for v in cfg.volumes}
        taken |= {os.path.normpath(b.get("destination", "")) for b in cfg.binds}
        taken |= {os.path.normpath(d) for d in cfg.tmpfs}
        for dest in declared:
            dest = os.path.normpath(dest)
            if dest not in taken:
                cfg.volumes.append({"name": "", "destination": dest, "options": [], "anonymous": True})
                taken.add(dest)

    def _prepare_volumes(self, cfg: "ContainerConfig", created: list[str]) -> None:
        """Create the anonymous volumes and the named ones that do not exist yet."""
        for vol in cfg.volumes:
            name = vol.get("name") or ""
            if name and self.volumes.exists(name):
                continue
            anonymous = not name or bool(vol.get("anonymous"))
            new = self.volumes.create(name or None, anonymous=anonymous)
            vol["name"] = new.name
            vol["anonymous"] = anonymous
            created.append(new.name)

    def _rollback_create(self, cfg: "ContainerConfig", layer: str, volumes: list[str]) -> None:
        import shutil

        if layer:
            try:
                self.store.delete_layer(layer)
            except PypodError:
                pass
        for directory in (self.config.container_static_dir(cfg.id), self.config.container_run_dir(cfg.id)):
            shutil.rmtree(os.path.dirname(directory), ignore_errors=True)
        for name in volumes:
            try:
                self.volumes.remove(name, force=True)
            except PypodError:
                pass

    # --- reboot -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """After a reboot: reset every container's state, remove the ones being removed."""
        from pypod.libpod.container.repair import refresh_container
        from pypod.libpod.network.lifecycle import teardown_after_reboot

        # bridges, firewall rules and port forwards of the earlier boot's containers
        teardown_after_reboot(self.config, [c["id"] for c, _s in self.db.all_containers()])
        to_remove = []
        for config, state in self.db.all_containers():
            ctr = self._container(config, state)
            try:
                with ctr.lock():
                    if refresh_container(ctr):
                        to_remove.append(ctr)
            except NotFound:
                continue
        for ctr in to_remove:
            try:
                with ctr.lock():
                    ctr.reload()
                    from pypod.libpod.container.model import ContainerStatus as S

                    if ctr.state.status != S.REMOVING:
                        ctr.state.status = S.REMOVING
                        ctr.save()
                    ctr._remove_removing(volumes=ctr.config.auto_remove)
            except (NotFound, PypodError):
                continue
        try:
            self.events.write("system", "refresh")
        except OSError:  # an event that cannot be written never fails the refresh
            pass
