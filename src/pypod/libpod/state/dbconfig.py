"""The database's fixed configuration (graph root, run root, graph driver), mirrored in a file.

The dbconfig row never changes once the database exists.  Commands that only read image files
(`images`) check this small mirror instead of loading SQLite (~4 ms of start-up); `Database`
rewrites the mirror whenever it differs from the row, so a recreated database is never judged
by a stale mirror.
"""

from __future__ import annotations

import os

from pypod.errors import DatabaseMismatch

LABELS = ("graph root", "run root", "graph driver name")


def mirror_path(db_path: str) -> str:
    return os.path.join(os.path.dirname(db_path), "dbconfig.json")


def raise_on_mismatch(stored: tuple[str, ...] | list[str], ours: tuple[str, str, str]) -> None:
    """DatabaseMismatch naming the first setting that differs (podman's words)."""
    for label, was, mine in zip(LABELS, stored, ours):
        if was != mine:
            raise DatabaseMismatch(
                f'database {label} "{was}" does not match our {label} "{mine}": database configuration mismatch'
            )


def read_mirror(db_path: str) -> list[str] | None:
    import json

    try:
        with open(mirror_path(db_path), "rb") as fh:
            values = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if not (isinstance(values, list) and len(values) == 3 and all(isinstance(v, str) for v in values)):
        return None
    return values


def write_mirror(db_path: str, values: tuple[str, str, str]) -> None:
    """Best effort: without a mirror, the next reader simply opens the database."""
    import json

    from pypod.libpod.osutil import write_atomic

    try:
        write_atomic(mirror_path(db_path), json.dumps(list(values)).encode(), mode=0o600)
    except OSError:
        pass


def matches(db_path: str, ours: tuple[str, str, str]) -> bool:
    """True when the database exists and its mirror matches ``ours``; DatabaseMismatch when it
    differs; False when unknown (no database or no mirror yet: open the database instead)."""
    stored = read_mirror(db_path)
    if stored is None or not os.path.exists(db_path):
        return False
    raise_on_mismatch(stored, ours)
    return True
