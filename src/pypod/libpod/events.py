"""Event log (podman's file backend): one JSON line per event in <tmpdir>/events/events.log.

Writers append one whole line with a single ``write`` on an ``O_APPEND`` descriptor while
holding a shared ``flock`` on ``events.log.lock``; rotation (when the file passes ``max_size``)
takes the lock exclusively and keeps the newer half, so no writer can append to a file that is
being replaced.  Readers need no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time

from pypod.errors import InvalidArgument

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterable, Iterator

MAX_LOG_SIZE = 1024 * 1024
POLL_INTERVAL = 0.1

# python keyword -> podman's JSON field name (order of podman's Event struct)
_EXTRA_FIELDS = {
    "exit_code": "ContainerExitCode",
    "container_exit_code": "ContainerExitCode",
    "containerExitCode": "ContainerExitCode",  # the keyword libpod/container and exec use
    "network": "network",
    "error": "error",
    "health_status": "health_status",
    "health_log": "health_log",
    "health_failing_streak": "health_failing_streak",
    "oom_killed": "OOMKilled",
    "pod_id": "PodID",
    "details": "Details",
}
FILTER_KEYS = ("type", "event", "status", "container", "image", "pod", "volume", "network", "label", "since", "until")


def _now_rfc3339nano() -> str:
    from pypod.libpod.timefmt import rfc3339nano

    return rfc3339nano(time.time_ns())


class EventLog:
    """Append and read events; safe for many writer processes (O_APPEND, one write per line)."""

    def __init__(self, path: str, max_size: int = MAX_LOG_SIZE) -> None:
        self.path = path
        self.max_size = max_size
        self.lock_path = path + ".lock"

    # --- writing -----------------------------------------------------------------------
    def _lock_fd(self) -> int:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        return os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def write(
        self,
        type: str,  # noqa: A002 - podman's field name
        status: str,
        *,
        id: str = "",  # noqa: A002
        name: str = "",
        image: str = "",
        attributes: dict[str, str] | None = None,
        time_ns: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Append one event; returns the record written."""
        from pypod.libpod.timefmt import rfc3339nano

        record: dict[str, Any] = {}
        mapped = {_EXTRA_FIELDS.get(k, k): v for k, v in extra.items() if v is not None}
        if "ContainerExitCode" in mapped:
            record["ContainerExitCode"] = mapped.pop("ContainerExitCode")
        if id:
            record["ID"] = id
        if image:
            record["Image"] = image
        if name:
            record["Name"] = name
        if "network" in mapped:
            record["network"] = mapped.pop("network")
        record["Status"] = status
        record["Time"] = rfc3339nano(time_ns if time_ns is not None else time.time_ns())
        record["Type"] = type
        for key in ("error", "health_status", "health_log", "health_failing_streak", "OOMKilled", "PodID"):
            if key in mapped:
                record[key] = mapped.pop(key)
        record.update(mapped)
        record["Attributes"] = dict(attributes) if attributes is not None else None
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        lock = self._lock_fd()
        try:
            fcntl.flock(lock, fcntl.LOCK_SH)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            fcntl.flock(lock, fcntl.LOCK_UN)
            if size > self.max_size:
                self._rotate(lock)
        finally:
            os.close(lock)
        return record

    def _rotate(self, lock: int) -> None:
        """Keep the newer half of the log (whole lines), under the exclusive lock."""
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                with open(self.path, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                return
            if len(data) <= self.max_size:
                return  # another process rotated first
            cut = data.find(b"\n", len(data) - self.max_size // 2)
            kept = data[cut + 1:] if cut >= 0 else b""
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(kept)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    # --- reading -----------------------------------------------------------------------
    def read(
        self,
        since: float | None = None,
        until: float | None = None,
        filters: Iterable[str] = (),
        follow: bool = False,
        stop_when: Callable[[], bool] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Events in order, filtered ("key=value"); with ``follow`` keep polling until ``until``/``stop_when``."""
        match, f_since, f_until = compile_filters(filters)
        since = f_since if since is None else since
        until = f_until if until is None else until
        offset = 0
        inode = None
        pending = b""
        last_line = b""
        while True:
            rotated = False
            try:
                with open(self.path, "rb") as fh:
                    st = os.fstat(fh.fileno())
                    if inode is not None and (st.st_ino != inode or st.st_size < offset):
                        rotated = True
                        offset = 0
                        pending = b""
                    inode = st.st_ino
                    fh.seek(offset)
                    chunk = fh.read()
                    offset += len(chunk)
            except FileNotFoundError:
                chunk = b""
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()  # incomplete last line (or b"")
            if rotated and last_line:
                # skip what we already returned before the rotation
                try:
                    idx = len(lines) - 1 - lines[::-1].index(last_line)
                    lines = lines[idx + 1:]
                except ValueError:
                    pass
            for raw in lines:
                if not raw.strip():
                    continue
                last_line = raw
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                ts = event_time(event)
                if since is not None and ts < since:
                    continue
                if until is not None and ts > until:
                    if not follow:
                        continue
                    return
                if match(event):
                    yield event
            if not follow:
                return
            if until is not None and time.time() > until:
                return
            if stop_when is not None and stop_when():
                return
            time.sleep(POLL_INTERVAL)


def event_time(event: dict[str, Any]) -> float:
    """Unix time of an event record (0 when it has none)."""
    from pypod.libpod.timefmt import parse_rfc3339

    value = event.get("Time")
    if not value:
        return 0.0
    try:
        return parse_rfc3339(str(value))
    except ValueError:
        return 0.0


def _label_match(event: dict[str, Any], want: str) -> bool:
    attrs = event.get("Attributes") or {}
    key, eq, value = want.partition("=")
    if key not in attrs:
        return False
    return not eq or attrs[key] == value


def _id_or_name(event: dict[str, Any], value: str) -> bool:
    return event.get("Name") == value or (bool(value) and str(event.get("ID", "")).startswith(value))


_MATCHERS: dict[str, Callable[[dict[str, Any], str], bool]] = {
    "type": lambda e, v: e.get("Type") == v,
    "event": lambda e, v: e.get("Status") == v or (v == "die" and e.get("Status") == "died"),
    "container": lambda e, v: e.get("Type") == "container" and _id_or_name(e, v),
    "image": lambda e, v: (e.get("Type") == "image" and _id_or_name(e, v))
    or (e.get("Type") == "container" and e.get("Image") == v),
    "pod": lambda e, v: (e.get("Type") == "pod" and _id_or_name(e, v)) or e.get("PodID", "") == v,
    "volume": lambda e, v: e.get("Type") == "volume" and _id_or_name(e, v),
    "network": lambda e, v: e.get("Type") == "network" and (e.get("network") == v or _id_or_name(e, v)),
    "label": _label_match,
}


def compile_filters(
    filters: Iterable[str],
) -> tuple[Callable[[dict[str, Any]], bool], float | None, float | None]:
    """(matcher, since, until) for podman's --filter values; same key ORs, different keys AND."""
    from pypod.libpod.timefmt import parse_since as parse_time

    groups: dict[str, list[str]] = {}
    since = until = None
    for item in filters:
        key, eq, value = str(item).partition("=")
        key = key.strip().lower()
        if not eq:
            raise InvalidArgument(f'invalid filter "{item}"')
        if key == "status":
            key = "event"
        if key == "since":
            since = parse_time(value)
            continue
        if key == "until":
            until = parse_time(value)
            continue
        if key not in _MATCHERS:
            raise InvalidArgument(f"{key} is an invalid filter")
        groups.setdefault(key, []).append(value)

    def match(event: dict[str, Any]) -> bool:
        return all(any(_MATCHERS[k](event, v) for v in values) for k, values in groups.items())

    return match, since, until


def human_time(event: dict[str, Any]) -> str:
    """The event's time as Go's time.Time String ("2024-01-02 15:04:05.123456789 +0000 UTC")."""
    from pypod.libpod.timefmt import rfc3339_to_podman_time

    value = str(event.get("Time", ""))
    try:
        return rfc3339_to_podman_time(value)
    except ValueError:
        return value


def format_human(event: dict[str, Any], no_trunc: bool = True) -> str:
    """podman's default one-line rendering of an event."""
    when = human_time(event)
    etype = event.get("Type", "")
    status = event.get("Status", "")
    ident = str(event.get("ID", ""))
    if not no_trunc and re.fullmatch(r"[0-9a-f]{64}", ident):
        ident = ident[:12]
    name = event.get("Name", "")
    if etype in ("container", "pod"):
        text = f"{when} {etype} {status} {ident} (image={event.get('Image', '')}, name={name}"
        if event.get("PodID"):
            text += f", pod_id={event['PodID']}"
        if event.get("health_status"):
            text += f", health_status={event['health_status']}"
        for key, value in (event.get("Attributes") or {}).items():
            text += f", {key}={value}"
        return text + ")"
    if etype == "network":
        return f"{when} {etype} {status} {ident} (container={ident}, name={event.get('network', '')})"
    if etype == "image":
        text = f"{when} {etype} {status} {ident} {name}"
        if event.get("error"):
            text += " " + str(event["error"])
        return text
    if etype == "system":
        return f"{when} {etype} {status} {name}" if name else f"{when} {etype} {status}"
    return f"{when} {etype} {status} {name}"


class EventView(dict):  # type: ignore[type-arg]
    """An event record for --format templates: Time renders like Go's time.Time."""

    @classmethod
    def of(cls, event: dict[str, Any]) -> "EventView":
        view = cls(event)
        for key in ("ID", "Image", "Name", "Status", "Type"):
            view.setdefault(key, "")
        view.setdefault("Attributes", {})
        if view.get("Attributes") is None:
            view["Attributes"] = {}
        view["Time"] = human_time(event)
        view.setdefault("ContainerExitCode", 0)
        view.setdefault("PodID", "")
        view.setdefault("Network", event.get("network", ""))
        view.setdefault("HealthStatus", event.get("health_status", ""))
        view.setdefault("Error", event.get("error", ""))
        for key in [k for k in view if not k[:1].isupper()]:
            del view[key]
        return view
