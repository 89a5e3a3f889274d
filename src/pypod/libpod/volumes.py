"""Named volumes: DB records plus data directories under <root>/volumes/<name>/_data."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from pypod.errors import InUse, InvalidArgument, NoSuchVolume, PypodError

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterator
    from pypod.libpod.runtime import Runtime

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
LOCAL_OPTIONS = ("type", "device", "o", "uid", "gid", "copy", "nocopy", "size", "inodes", "noquota")
FILTER_KEYS = ("name", "driver", "label", "opt", "scope", "dangling", "until", "after", "before", "id")


@dataclass
class Volume:
    """A named volume."""
    name: str
    driver: str = "local"
    mountpoint: str = ""
    created_at: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    uid: int = 0
    gid: int = 0
    needs_copy_up: bool = True
    needs_chown: bool = True
    mount_count: int = 0
    lock_id: int | None = None

    def config_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("needs_copy_up", "needs_chown", "mount_count"):
            data.pop(key)
        return data

    def state_dict(self) -> dict[str, Any]:
        return {"needs_copy_up": self.needs_copy_up, "needs_chown": self.needs_chown, "mount_count": self.mount_count}

    @classmethod
    def from_records(cls, config: dict[str, Any], state: dict[str, Any] | None) -> "Volume":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in (config or {}).items() if k in known}
        values.update({k: v for k, v in (state or {}).items() if k in known})
        return cls(**values)

    def inspect(self) -> dict[str, Any]:
        """podman's `volume inspect` JSON object."""
        from pypod.libpod.timefmt import rfc3339nano

        data: dict[str, Any] = {
            "Name": self.name,
            "Driver": self.driver,
            "Mountpoint": self.mountpoint,
            "CreatedAt": rfc3339nano(self.created_at),
            "Labels": dict(self.labels),
            "Scope": "local",
            "Options": dict(self.options),
            "MountCount": self.mount_count,
            "NeedsCopyUp": self.needs_copy_up,
            "NeedsChown": self.needs_chown,
        }
        if self.anonymous:
            data["Anonymous"] = True
        if self.uid or self.gid:
            data["UID"] = self.uid
            data["GID"] = self.gid
        return data


class VolumeStore:
    """Create, list, inspect and remove the runtime's volumes."""

    def __init__(self, rt: "Runtime") -> None:
        self.rt = rt

    # --- helpers -------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return self.rt.config.volume_path

    def _event(self, status: str, name: str) -> None:
        try:
            self.rt.events.write("volume", status, name=name)
        except OSError:  # an event that cannot be written never fails the operation
            pass

    @contextmanager
    def _locked(self, vol: Volume) -> Iterator[None]:
        if vol.lock_id is None:
            yield
            return
        with self.rt.locks.lock(vol.lock_id):
            yield

    # --- API -----------------------------------------------------------------------------
    def create(self, name: str | None = None, driver: str = "local", labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, *, anonymous: bool = False,
               ignore_existing: bool = False) -> Volume:
        """Create a volume (a random 64-hex name when ``name`` is empty); AlreadyExists unless ``ignore_existing``."""
        if driver not in ("local", ""):
            raise InvalidArgument(
                f"volume {name or ''} uses volume plugin {driver} but it could not be retrieved: "
                f"no volume plugin with name {driver} available: required plugin missing"
            )
        if name:
            if not NAME_RE.match(name):
                raise InvalidArgument(
                    "running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
                )
            if ignore_existing and self.exists(name):
                return self.get(name)
        else:
            name = secrets.token_hex(32)
        opts = dict(options or {})
        for key in opts:
            if key not in LOCAL_OPTIONS:
                raise InvalidArgument(f"invalid mount option {key} for driver 'local': invalid argument")
        uid = int(opts.get("uid", 0) or 0)
        gid = int(opts.get("gid", 0) or 0)
        vol = Volume(
            name=name,
            driver="local",
            mountpoint=os.path.join(self.base, name, "_data"),
            created_at=time.time(),
            labels=dict(labels or {}),
            options=opts,
            anonymous=anonymous,
            uid=uid,
            gid=gid,
        )
        vol.lock_id = self.rt.db.add_volume(name, vol.config_dict(), vol.state_dict())
        try:
            os.makedirs(os.path.dirname(vol.mountpoint), mode=0o700, exist_ok=True)
            os.makedirs(vol.mountpoint, mode=0o755, exist_ok=True)
            os.chmod(vol.mountpoint, 0o755)
            if uid or gid:
                os.chown(vol.mountpoint, uid, gid)
        except OSError:
            self.rt.db.remove_volume(name)
            raise
        self._event("create", name)
        return vol

    def get(self, name: str) -> Volume:
        """The volume named ``name`` (exact name, else a unique prefix); NoSuchVolume."""
        try:
            config, state = self.rt.db.get_volume(name)
        except NoSuchVolume:
            matches = [v for v in self.list() if v.name.startswith(name)] if name else []
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                from pypod.errors import AmbiguousName

                raise AmbiguousName(f"more than one result for volume name {name}: volume already exists") from None
            raise
        return Volume.from_records(config, state)

    def exists(self, name: str) -> bool:
        try:
            self.rt.db.get_volume(name)
        except NoSuchVolume:
            return False
        return True

    def list(self, filters: list[str] | None = None) -> list[Volume]:
        vols = [Volume.from_records(c, s) for c, s in self.rt.db.all_volumes()]
        if filters:
            match = self._filter(filters)
            vols = [v for v in vols if match(v)]
        return vols

    def _filter(self, filters: list[str]) -> Any:
        from pypod.libpod.timefmt import parse_since as parse_time

        groups: dict[str, list[str]] = {}
        for item in filters:
            key, eq, value = item.partition("=")
            if not eq:
                raise InvalidArgument(f'invalid filter "{item}"')
            if key not in FILTER_KEYS:
                raise InvalidArgument(f'"{key}" is an invalid volume filter')
            if key == "dangling" and value.lower() not in ("true", "1", "false", "0"):
                raise InvalidArgument(f'"{value}" is not a valid value for the "dangling" filter - must be true or false')
            groups.setdefault(key, []).append(value)
        used: set[str] | None = None
        if "dangling" in groups:
            used = self._used_names()

        def one(vol: Volume, key: str, value: str) -> bool:
            if key == "name":
                return bool(re.search(value, vol.name))
            if key == "id":
                return vol.name.startswith(value)
            if key == "driver":
                return vol.driver == value
            if key == "scope":
                return value == "local"
            if key == "label":
                k, eq, v = value.partition("=")
                return k in vol.labels and (not eq or vol.labels[k] == v)
            if key == "opt":
                k, eq, v = value.partition("=")
                return k in vol.options and (not eq or vol.options[k] == v)
            if key == "dangling":
                want = value.lower() in ("true", "1")
                if value.lower() not in ("true", "1", "false", "0"):
                    raise InvalidArgument(f'"{value}" is not a valid value for the "dangling" filter - must be true or false')
                return (vol.name not in (used or set())) == want
            if key in ("until", "before"):
                return vol.created_at < parse_time(value)
            if key == "after":
                return vol.created_at > parse_time(value)
            return False

        return lambda vol: all(any(one(vol, k, v) for v in vals) for k, vals in groups.items())

    def _used_names(self) -> set[str]:
        return set(self._users_by_volume())

    def _users_by_volume(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        for config, _state in self.rt.db.all_containers():
            for entry in (config or {}).get("volumes") or []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if name:
                    users.setdefault(name, []).append(config.get("id", ""))
        return users

    def users(self, name: str) -> list[str]:
        """IDs of containers whose config names this volume."""
        return self._users_by_volume().get(name, [])

    def remove(self, name: str, force: bool = False, timeout: int | None = None) -> None:
        """Remove the volume; in use → InUse unless ``force`` (then its containers are removed first)."""
        vol = self.get(name)
        users = self.users(vol.name)
        if users:
            if not force:
                raise InUse(
                    f"volume {vol.name} is being used by the following container(s): "
                    f"{', '.join(users)}: volume is being used"
                )
            for ctr_id in users:
                try:
                    ctr = self.rt.get_container(ctr_id)
                except PypodError:
                    continue
                self.rt.remove_container(ctr, force=True, timeout=timeout)
            if not self.exists(vol.name):  # removed with its container
                return
        with self._locked(vol):
            self.rt.db.remove_volume(vol.name)
        shutil.rmtree(os.path.join(self.base, vol.name), ignore_errors=True)
        self._event("remove", vol.name)

    def prune(self, filters: list[str] | None = None) -> list[str]:
        """Remove every volume no container uses; returns their names."""
        used = set(self._users_by_volume())
        removed = []
        for vol in self.list(filters):
            if vol.name in used:
                continue
            try:
                self.remove(vol.name)
            except (InUse, NoSuchVolume):
                continue
            self._event("prune", vol.name)
            removed.append(vol.name)
        return removed

    def mountpoint(self, name: str) -> str:
        return self.get(name).mountpoint

    def save(self, volume: Volume) -> None:
        self.rt.db.save_volume_state(volume.name, volume.state_dict())

    def copy_up(self, volume: Volume | str, image_rootfs: str, path: str) -> None:
        """Copy the image's content at ``path`` into the volume once, if the volume is still empty."""
        vol = self.get(volume) if isinstance(volume, str) else volume
        if not vol.needs_copy_up:
            return
        with self._locked(vol):
            vol = self.get(vol.name)  # re-read under the lock
            if not vol.needs_copy_up:
                return
            source = _resolve_in_root(image_rootfs, path)
            target = vol.mountpoint
            os.makedirs(target, exist_ok=True)
            if source and os.path.isdir(source) and not os.listdir(target):
                _copy_tree(source, target)
                st = os.lstat(source)
                os.chown(target, st.st_uid, st.st_gid)
                os.chmod(target, st.st_mode & 0o7777)
            vol.needs_copy_up = False
            self.save(vol)


def _resolve_in_root(root: str, path: str) -> str | None:
    """``path`` inside ``root``, following symlinks without leaving ``root``; None if absent."""
    current = os.path.realpath(root)
    parts = [p for p in path.split("/") if p and p != "."]
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            parent = os.path.dirname(current)
            current = parent if parent.startswith(os.path.realpath(root)) else os.path.realpath(root)
            continue
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = os.path.realpath(root)
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        if not os.path.lexists(candidate):
            return None
        current = candidate
    return current


def _copy_tree(src: str, dst: str) -> None:
    """Copy the contents of ``src`` into ``dst`` keeping modes, owners, times and symlinks."""
    for entry in os.scandir(src):
        target = os.path.join(dst, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
            os.lchown(target, *_owner(entry.path))
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(target)
            _copy_tree(entry.path, target)
            shutil.copystat(entry.path, target)
            os.chown(target, *_owner(entry.path))
        elif entry.is_file(follow_symlinks=False):
            shutil.copy2(entry.path, target)
            os.chown(target, *_owner(entry.path))


def _owner(path: str) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid
