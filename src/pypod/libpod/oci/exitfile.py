"""Reading the exit files conmon writes when a container's process ends."""

from __future__ import annotations

import os

from pypod.libpod.timefmt import rfc3339_fixed


class ExitInfo:
    """A container process's exit, as conmon recorded it (a plain class: read by every
    exit command and sync, where building a dataclass would cost more than the read)."""

    __slots__ = ("code", "finished_at", "oom")

    def __init__(self, code: int, finished_at: str, oom: bool) -> None:
        self.code = code
        self.finished_at = finished_at  # RFC 3339 with nanoseconds, UTC
        self.oom = oom

    def __repr__(self) -> str:
        return f"ExitInfo(code={self.code!r}, finished_at={self.finished_at!r}, oom={self.oom!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.code, self.finished_at, self.oom) == (other.code, other.finished_at, other.oom)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


def read_exit(exits_dir: str, persist_dir: str, ctr_id: str) -> ExitInfo | None:
    """The container's exit status from ``<exits_dir>/<id>`` (or ``<persist_dir>/exit``).

    `persist_dir` is the container's own persist directory (``<tmp>/persist/<id>``).
    Returns None when conmon has not written a (complete) exit file yet.
    """
    for path in (os.path.join(exits_dir, ctr_id), os.path.join(persist_dir, "exit")):
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("ascii", errors="replace").strip()
                stamp = os.fstat(fh.fileno()).st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not text:
            continue  # conmon created the file but has not written it yet
        try:
            code = int(text)
        except ValueError:
            continue
        oom = os.path.exists(os.path.join(persist_dir, "oom"))
        return ExitInfo(code=code, finished_at=rfc3339_fixed(stamp), oom=oom)
    return None
