"""Reading the exit files conmon writes when a container's process ends."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pypod.libpod.timefmt import rfc3339_fixed


@dataclass
class ExitInfo:
    """A container process's exit, as conmon recorded it."""
    code: int
    finished_at: str  # RFC 3339 with nanoseconds, UTC
    oom: bool


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
