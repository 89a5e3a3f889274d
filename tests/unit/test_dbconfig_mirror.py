"""The dbconfig mirror: written by the database, trusted by `images`, never stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pypod.errors import DatabaseMismatch
from pypod.libpod.state import dbconfig
from pypod.libpod.state.db import Database


def open_db(tmp_path: Path, driver: str = "overlay") -> Database:
    return Database(str(tmp_path / "state.db"), root=str(tmp_path), runroot="/run/x", storage_driver=driver)


def test_open_writes_the_mirror_private(tmp_path: Path) -> None:
    open_db(tmp_path).close()
    path = dbconfig.mirror_path(str(tmp_path / "state.db"))
    assert dbconfig.read_mirror(str(tmp_path / "state.db")) == [str(tmp_path), "/run/x", "overlay"]
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_matches_and_mismatch(tmp_path: Path) -> None:
    db_path = str(tmp_path / "state.db")
    assert dbconfig.matches(db_path, (str(tmp_path), "/run/x", "overlay")) is False  # no database yet
    open_db(tmp_path).close()
    assert dbconfig.matches(db_path, (str(tmp_path), "/run/x", "overlay")) is True
    with pytest.raises(DatabaseMismatch, match='graph driver name "overlay" does not match our graph driver name "vfs"'):
        dbconfig.matches(db_path, (str(tmp_path), "/run/x", "vfs"))
    with pytest.raises(DatabaseMismatch):  # the database itself says the same
        open_db(tmp_path, "vfs")


def test_recreated_database_rewrites_a_stale_mirror(tmp_path: Path) -> None:
    db_path = str(tmp_path / "state.db")
    open_db(tmp_path).close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.unlink(db_path + suffix)
    open_db(tmp_path, "vfs").close()
    assert dbconfig.matches(db_path, (str(tmp_path), "/run/x", "vfs")) is True


@pytest.mark.parametrize("content", [b"", b"{", b'["a", "b"]', b'[1, 2, 3]', b"\xff\xfe"])
def test_a_broken_mirror_means_unknown_then_is_repaired(tmp_path: Path, content: bytes) -> None:
    db_path = str(tmp_path / "state.db")
    open_db(tmp_path).close()
    Path(dbconfig.mirror_path(db_path)).write_bytes(content)
    assert dbconfig.matches(db_path, (str(tmp_path), "/run/x", "overlay")) is False
    open_db(tmp_path).close()
    assert dbconfig.matches(db_path, (str(tmp_path), "/run/x", "overlay")) is True
