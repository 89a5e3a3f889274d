"""The state database: schema, names, lookups, lock numbers, mismatch, transactions."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pypod.errors import (
    AlreadyExists,
    AmbiguousName,
    DatabaseError,
    DatabaseMismatch,
    InUse,
    NoSuchContainer,
    NoSuchExecSession,
    NoSuchPod,
    NoSuchVolume,
)
from pypod.libpod.state.db import MIGRATIONS, Database


def open_db(tmp_path: Path, **kw: str) -> Database:
    args = {"root": "/r", "runroot": "/rr", "storage_driver": "overlay"}
    args.update(kw)
    return Database(str(tmp_path / "state.db"), **args)


def ctr(db: Database, cid: str, name: str, pod: str | None = None) -> int:
    return db.add_container(cid, name, pod, {"id": cid, "name": name, "lock_id": -1}, {"status": "configured"})


@pytest.fixture
def db(tmp_path: Path) -> Database:
    d = open_db(tmp_path)
    yield d
    d.close()


def test_schema_and_pragmas(db: Database, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "state.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"dbconfig", "names", "containers", "pods", "volumes", "exec_sessions", "locks"} <= tables
    assert db._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 100_000
    conn.close()


def test_reopen_keeps_data_and_skips_migrations(tmp_path: Path) -> None:
    with open_db(tmp_path) as d:
        ctr(d, "a" * 64, "one")
    with open_db(tmp_path) as d:
        assert [c["name"] for c, _ in d.all_containers()] == ["one"]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    open_db(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "state.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(DatabaseError, match="newer"):
        open_db(tmp_path)


def test_pending_migration_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_db(tmp_path).close()
    monkeypatch.setattr("pypod.libpod.state.db.MIGRATIONS", MIGRATIONS + ["ALTER TABLE pods ADD COLUMN extra TEXT"])
    with open_db(tmp_path) as d:
        assert d._conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
        cols = [r[1] for r in d._conn.execute("PRAGMA table_info(pods)")]
        assert "extra" in cols


@pytest.mark.parametrize(
    "field,value,label",
    [("root", "/other", "graph root"), ("runroot", "/other", "run root"), ("storage_driver", "vfs", "graph driver name")],
)
def test_dbconfig_mismatch(tmp_path: Path, field: str, value: str, label: str) -> None:
    open_db(tmp_path).close()
    with pytest.raises(DatabaseMismatch) as err:
        open_db(tmp_path, **{field: value})
    message = str(err.value)
    assert label in message and value in message and "database configuration mismatch" in message
    assert "\n" not in message


def test_corrupt_file_is_a_database_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="state.db"):
        open_db(tmp_path)


def test_container_round_trip(db: Database) -> None:
    cid = "a" * 64
    lock = ctr(db, cid, "web")
    config, state = db.get_container(cid)
    assert config["name"] == "web" and config["lock_id"] == lock
    assert state == {"status": "configured"}
    db.save_container_state(cid, {"status": "running", "pid": 42})
    assert db.get_container(cid)[1] == {"status": "running", "pid": 42}
    assert db.all_containers() == [(config, {"status": "running", "pid": 42})]


def test_names_unique_across_containers_and_pods(db: Database) -> None:
    cid = "a" * 64
    ctr(db, cid, "shared")
    with pytest.raises(AlreadyExists) as err:
        ctr(db, "b" * 64, "shared")
    assert str(err.value) == (
        f'the container name "shared" is already in use by {cid}. You have to remove that container '
        "to be able to reuse that name: that name is already in use"
    )
    with pytest.raises(AlreadyExists, match='name "shared" is in use: container already exists'):
        db.add_pod("c" * 64, "shared", {}, {})
    db.add_pod("d" * 64, "podname", {}, {})
    with pytest.raises(AlreadyExists, match='name "podname" is in use: pod already exists'):
        ctr(db, "e" * 64, "podname")
    # Failed inserts left nothing behind.
    assert len(db.all_containers()) == 1 and len(db.all_pods()) == 1
    assert db.all_lock_numbers() == [0, 1]
    assert db.integrity_check() == "ok"


def test_name_freed_on_remove_and_rename(db: Database) -> None:
    cid = "a" * 64
    ctr(db, cid, "old")
    config, _ = db.get_container(cid)
    config["name"] = "new"
    db.save_container_config(cid, "new", config)
    ctr(db, "b" * 64, "old")  # the old name is free again
    with pytest.raises(AlreadyExists):
        db.save_container_config("b" * 64, "new", {"name": "new"})
    assert db.lookup_container("new") == cid
    db.remove_container(cid)
    ctr(db, "c" * 64, "new")
    assert db.integrity_check() == "ok"


def test_lookup_rules(db: Database) -> None:
    a, b = "abc1" + "0" * 60, "abc2" + "0" * 60
    ctr(db, a, "first")
    ctr(db, b, "abc1")  # a name that is also a prefix of a's ID
    assert db.lookup_container(a) == a
    assert db.lookup_container("first") == a
    assert db.lookup_container("abc1") == b  # exact name beats ID prefix
    assert db.lookup_container("abc2") == b
    with pytest.raises(AmbiguousName, match="more than one result"):
        db.lookup_container("abc")
    with pytest.raises(NoSuchContainer) as err:
        db.lookup_container("nothing")
    assert str(err.value) == 'no container with name or ID "nothing" found: no such container'
    with pytest.raises(NoSuchContainer):
        db.lookup_container("")
    with pytest.raises(NoSuchContainer):
        db.lookup_container("%")  # LIKE wildcards are literal


def test_lock_numbers_smallest_free_and_reused(db: Database) -> None:
    ids = [f"{i:064x}" for i in range(5)]
    assert [ctr(db, cid, f"c{i}") for i, cid in enumerate(ids)] == [0, 1, 2, 3, 4]
    db.remove_container(ids[1])
    db.remove_container(ids[3])
    assert db.all_lock_numbers() == [0, 2, 4]
    assert db.add_pod("p" * 64, "pod", {}, {}) == 1
    assert db.add_volume("vol", {}, {}) == 3
    assert ctr(db, "f" * 64, "c9") == 5
    db.remove_container(ids[0])
    assert ctr(db, "e" * 64, "c10") == 0


def test_renumber_locks(db: Database) -> None:
    ids = [f"{i:064x}" for i in range(4)]
    for i, cid in enumerate(ids):
        ctr(db, cid, f"c{i}")
    db.remove_container(ids[0])
    db.add_volume("v", {"lock_id": -1}, {})
    mapping = db.renumber_locks()
    assert sorted(mapping.values()) == [0, 1, 2, 3]
    assert db.all_lock_numbers() == [0, 1, 2, 3]
    for cid in ids[1:]:
        assert db.get_container(cid)[0]["lock_id"] == mapping[cid]
    assert db.get_volume("v")[0]["lock_id"] == mapping["v"]
    assert db.integrity_check() == "ok"


def test_pods_and_membership(db: Database) -> None:
    pid = "p" * 64
    db.add_pod(pid, "mypod", {"name": "mypod"}, {"status": "created"})
    assert db.lookup_pod("mypod") == pid and db.lookup_pod("ppp") == pid
    with pytest.raises(NoSuchPod, match='no pod with name or ID "x" found: no such pod'):
        db.lookup_pod("x")
    with pytest.raises(NoSuchPod):
        ctr(db, "a" * 64, "member", pod="nopod")
    ctr(db, "a" * 64, "member", pod=pid)
    assert [c["name"] for c, _ in db.pod_containers(pid)] == ["member"]
    with pytest.raises(InUse):
        db.remove_pod(pid)
    db.remove_container("a" * 64)
    db.save_pod_state(pid, {"status": "exited"})
    assert db.get_pod(pid)[1] == {"status": "exited"}
    db.remove_pod(pid)
    assert db.all_pods() == [] and db.all_lock_numbers() == []


def test_volumes(db: Database) -> None:
    db.add_volume("data", {"driver": "local"}, {"mount_count": 0})
    with pytest.raises(AlreadyExists, match="volume"):
        db.add_volume("data", {}, {})
    db.save_volume_state("data", {"mount_count": 1})
    assert db.get_volume("data")[1] == {"mount_count": 1}
    assert len(db.all_volumes()) == 1
    db.remove_volume("data")
    with pytest.raises(NoSuchVolume):
        db.get_volume("data")


def test_exec_sessions_cascade(db: Database) -> None:
    cid = "a" * 64
    ctr(db, cid, "c")
    db.add_exec_session("e1", cid, {"cmd": ["sh"]})
    db.add_exec_session("e2", cid, {"cmd": ["ls"]})
    db.save_exec_session("e2", {"cmd": ["ls"], "exit": 0})
    assert db.get_exec_session("e2")["exit"] == 0
    assert [s["cmd"] for s in db.exec_sessions_of(cid)] == [["sh"], ["ls"]]
    db.remove_exec_session("e1")
    with pytest.raises(NoSuchExecSession):
        db.get_exec_session("e1")
    db.remove_container(cid)
    with pytest.raises(NoSuchExecSession):
        db.get_exec_session("e2")
    with pytest.raises(NoSuchContainer):
        db.add_exec_session("e3", cid, {})


def test_nested_transactions(db: Database) -> None:
    with db.transaction():
        ctr(db, "a" * 64, "outer")
        with pytest.raises(AlreadyExists):
            with db.transaction():
                ctr(db, "b" * 64, "inner")
                ctr(db, "c" * 64, "inner")  # fails: the savepoint is rolled back
        assert [c["name"] for c, _ in db.all_containers()] == ["outer"]
    with pytest.raises(RuntimeError):
        with db.transaction():
            ctr(db, "d" * 64, "gone")
            raise RuntimeError("abort")
    assert [c["name"] for c, _ in db.all_containers()] == ["outer"]
    assert db.all_lock_numbers() == [0]


def test_two_connections_see_each_other(tmp_path: Path) -> None:
    first, second = open_db(tmp_path), open_db(tmp_path)
    ctr(first, "a" * 64, "x")
    assert second.lookup_container("x") == "a" * 64
    with pytest.raises(AlreadyExists):
        ctr(second, "b" * 64, "x")
    first.close()
    second.close()


def test_threads_share_one_database(db: Database) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(20):
                ctr(db, f"{n:02x}{i:062x}", f"t{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert db.all_lock_numbers() == list(range(80))
    assert db.integrity_check() == "ok"


def test_integrity_check_reports_problems(db: Database) -> None:
    ctr(db, "a" * 64, "c")
    db._conn.execute("INSERT INTO locks (num) VALUES (99)")
    report = db.integrity_check()
    assert "lock 99" in report


def test_configs_mentioning_an_id_decode_only_those_rows(db: Database) -> None:
    base = "a" * 64
    db.add_container(base, "base", None, {"id": base, "name": "base"}, {"status": "configured"})
    db.add_container("b" * 64, "needs", None, {"id": "b" * 64, "name": "needs", "requires": [base]}, {"status": "configured"})
    db.add_container("c" * 64, "other", None, {"id": "c" * 64, "name": "other"}, {"status": "configured"})
    with db.transaction() as conn:  # a corrupt row that mentions the ID is reported, not fatal
        conn.execute("UPDATE containers SET config = ? WHERE id = ?", ("{" + base, "c" * 64))
    found = sorted(c["id"] for c in db.container_configs_mentioning(base))
    assert found == [base, "b" * 64]
    assert "c" * 64 in db.corrupt_containers
