"""The state database: SQLite (WAL) holding configs and states of containers, pods, volumes.

Configs and states are stored as JSON text; this module takes dicts (or objects with
``to_dict()``) and gives dicts back. Names are unique across containers and pods. Lock
numbers are allocated (smallest free) in the same transaction as the object they belong to.
Each public method is one transaction unless called inside :meth:`Database.transaction`.
"""

from __future__ import annotations

import _thread  # threading.RLock() makes a _thread.RLock; `threading` itself costs ~0.5 ms to import
import json
import os
from contextlib import contextmanager

from pypod.errors import (
    AlreadyExists,
    AmbiguousName,
    DatabaseError,
    InUse,
    NoSuchContainer,
    NoSuchExecSession,
    NoSuchPod,
    NoSuchVolume,
    NoSpace,
    PypodError,
)

try:  # the C module alone: the `sqlite3` package also imports datetime for its default
    import _sqlite3 as sqlite3  # adapters (~1.5 ms per command); both expose the same objects
except ImportError:  # pragma: no cover - a Python without the split module
    import sqlite3

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterator

BUSY_TIMEOUT_S = 100.0

# Append new migrations; never edit a released one. user_version = number applied.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE dbconfig (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        graph_root TEXT NOT NULL,
        run_root TEXT NOT NULL,
        graph_driver TEXT NOT NULL
    );
    CREATE TABLE names (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('container', 'pod')),
        owner_id TEXT NOT NULL
    );
    CREATE TABLE locks (num INTEGER PRIMARY KEY);
    CREATE TABLE pods (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE REFERENCES names(name),
        config TEXT NOT NULL,
        state TEXT NOT NULL,
        lock_id INTEGER NOT NULL UNIQUE REFERENCES locks(num)
    );
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE REFERENCES names(name),
        pod_id TEXT REFERENCES pods(id),
        config TEXT NOT NULL,
        state TEXT NOT NULL,
        lock_id INTEGER NOT NULL UNIQUE REFERENCES locks(num)
    );
    CREATE INDEX containers_pod ON containers(pod_id);
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        state TEXT NOT NULL,
        lock_id INTEGER NOT NULL UNIQUE REFERENCES locks(num)
    );
    CREATE TABLE exec_sessions (
        id TEXT PRIMARY KEY,
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        data TEXT NOT NULL
    );
    CREATE INDEX exec_sessions_ctr ON exec_sessions(container_id);
    """,
]

_FREE_LOCK_SQL = """
SELECT CASE
    WHEN NOT EXISTS (SELECT 1 FROM locks WHERE num = 0) THEN 0
    ELSE (SELECT MIN(l.num + 1) FROM locks AS l
          WHERE NOT EXISTS (SELECT 1 FROM locks AS n WHERE n.num = l.num + 1))
END
"""

Record = "tuple[dict[str, Any], dict[str, Any]]"  # a string: Any is not imported at run time


def _dump(obj: Any) -> str:
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def _load(text: str) -> dict[str, Any]:
    try:
        return json.loads(text)
    except ValueError as exc:  # a damaged row must not escape as a traceback
        raise DatabaseError(f"corrupt record in the state database: {exc}") from None


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Database:
    """Open (creating or migrating) the state database at ``path`` for these roots."""

    def __init__(self, path: str, *, root: str, runroot: str, storage_driver: str) -> None:
        self.path = path
        self.root = root
        self.runroot = runroot
        self.storage_driver = storage_driver
        self._mutex = _thread.RLock()
        self._depth = 0
        self.corrupt_containers: dict[str, str] = {}  # id -> why its row does not decode
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, mode=0o700, exist_ok=True)
        try:
            # created 0600 first: SQLite gives its -wal/-shm files the same mode (not world-readable)
            # (exec+health engineer: only when missing — closing any fd of the file drops this process's
            # POSIX locks of a connection already open, and another process then deletes the live WAL)
            if not os.path.exists(path):
                os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600))
        except OSError as exc:
            raise DatabaseError(f'opening database "{path}": {exc}') from exc
        try:
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            # WAL + NORMAL: a commit is durable against the process being killed (the WAL is
            # written before COMMIT returns) and the database stays consistent on power loss;
            # only the WAL fsync per commit is skipped (it is done at checkpoints)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._migrate()
            self._check_dbconfig()
        except sqlite3.Error as exc:
            raise DatabaseError(f'opening database "{path}": {exc}') from exc

    # --- set-up -------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise DatabaseError(
                f'database "{self.path}" has schema version {version}, newer than this pypod '
                f"supports ({len(MIGRATIONS)})"
            )
        if version == len(MIGRATIONS):
            return
        with self.transaction():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for index in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[index].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {index + 1}")

    def _check_dbconfig(self) -> None:
        from pypod.libpod.state import dbconfig

        ours = (self.root, self.runroot, self.storage_driver)
        row = self._conn.execute("SELECT graph_root, run_root, graph_driver FROM dbconfig").fetchone()
        if row is None:
            with self.transaction():
                self._conn.execute(
                    "INSERT OR IGNORE INTO dbconfig (id, graph_root, run_root, graph_driver) VALUES (1, ?, ?, ?)",
                    ours,
                )
                row = self._conn.execute("SELECT graph_root, run_root, graph_driver FROM dbconfig").fetchone()
        if dbconfig.read_mirror(self.path) != list(row):
            dbconfig.write_mirror(self.path, tuple(row))
        dbconfig.raise_on_mismatch(tuple(row), ours)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE (a write lock at once); nested calls become savepoints."""
        with self._mutex:
            depth = self._depth
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            except sqlite3.Error as exc:
                raise DatabaseError(f"starting a database transaction: {exc}") from exc
            self._depth += 1
            try:
                yield conn
            except BaseException as exc:
                self._depth -= 1
                try:
                    if depth == 0:
                        conn.execute("ROLLBACK")
                    else:
                        conn.execute(f"ROLLBACK TO sp{depth}")
                        conn.execute(f"RELEASE sp{depth}")
                except sqlite3.Error:
                    pass
                if isinstance(exc, sqlite3.Error):
                    raise self._write_error("database error", exc) from exc
                raise
            else:
                self._depth -= 1
                try:
                    conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
                except sqlite3.Error as exc:
                    if depth == 0:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise self._write_error("committing a database transaction", exc) from exc

    def _write_error(self, what: str, exc: sqlite3.Error) -> PypodError:
        """DatabaseError, or NoSpace when SQLite found the disk full (SQLITE_FULL)."""
        if getattr(exc, "sqlite_errorcode", None) == 13 or "disk is full" in str(exc):
            return NoSpace(f'writing the state database "{self.path}": no space left on device')
        return DatabaseError(f"{what}: {exc}")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise DatabaseError(f"database error: {exc}") from exc

    # --- locks --------------------------------------------------------------------------
    def _allocate_lock(self, conn: sqlite3.Connection) -> int:
        num = conn.execute(_FREE_LOCK_SQL).fetchone()[0]
        conn.execute("INSERT INTO locks (num) VALUES (?)", (num,))
        return int(num)

    def all_lock_numbers(self) -> list[int]:
        return [row[0] for row in self._read("SELECT num FROM locks ORDER BY num")]

    def renumber_locks(self) -> dict[str, int]:
        """Give every container, pod and volume a new lock 0..n-1; returns id/name -> number."""
        result: dict[str, int] = {}
        with self.transaction() as conn:
            ctrs = conn.execute("SELECT id, config FROM containers ORDER BY rowid").fetchall()
            pods = conn.execute("SELECT id, config FROM pods ORDER BY rowid").fetchall()
            vols = conn.execute("SELECT name, config FROM volumes ORDER BY rowid").fetchall()
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("UPDATE containers SET lock_id = -1 - rowid")
            conn.execute("UPDATE pods SET lock_id = -1 - rowid")
            conn.execute("UPDATE volumes SET lock_id = -1 - rowid")
            conn.execute("DELETE FROM locks")
            num = 0
            for table, key, rows in (("containers", "id", ctrs), ("pods", "id", pods), ("volumes", "name", vols)):
                for ident, config_text in rows:
                    config = _load(config_text)
                    if "lock_id" in config:
                        config["lock_id"] = num
                    conn.execute("INSERT INTO locks (num) VALUES (?)", (num,))
                    conn.execute(
                        f"UPDATE {table} SET lock_id = ?, config = ? WHERE {key} = ?",
                        (num, _dump(config), ident),
                    )
                    result[ident] = num
                    num += 1
        return result

    # --- names ----------------------------------------------------------------------------
    def _claim_name(self, conn: sqlite3.Connection, name: str, kind: str, owner: str) -> None:
        row = conn.execute("SELECT kind, owner_id FROM names WHERE name = ?", (name,)).fetchone()
        if row is not None:
            existing, owner_id = row
            if kind == "container" and existing == "container":
                raise AlreadyExists(
                    f'the container name "{name}" is already in use by {owner_id}. You have to remove '
                    "that container to be able to reuse that name: that name is already in use"
                )
            prefix = "adding pod to state: " if kind == "pod" else ""
            raise AlreadyExists(f'{prefix}name "{name}" is in use: {existing} already exists')
        conn.execute("INSERT INTO names (name, kind, owner_id) VALUES (?, ?, ?)", (name, kind, owner))

    def _lookup(self, table: str, kind: str, name_or_id: str, not_found: type[Exception], what: str) -> str:
        if not name_or_id:
            raise not_found(f'no {kind} with name or ID "" found: no such {what}')
        rows = self._read(
            f"SELECT id, name FROM {table} WHERE id = ?1 OR name = ?1 OR id LIKE ?2 ESCAPE '\\'",
            (name_or_id, _like_prefix(name_or_id)),
        )
        for ident, name in rows:
            if ident == name_or_id:
                return ident
        for ident, name in rows:
            if name == name_or_id:
                return ident
        if len(rows) == 1:
            return rows[0][0]
        if not rows:
            raise not_found(f'no {kind} with name or ID "{name_or_id}" found: no such {what}')
        raise AmbiguousName(f"more than one result for {kind} ID {name_or_id}: {kind} already exists")

    # --- containers ---------------------------------------------------------------------
    def add_container(self, id: str, name: str, pod_id: str | None, config: Any, state: Any) -> int:
        """Insert a container and allocate its lock number (returned, and stored as config lock_id)."""
        config_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM containers WHERE id = ?", (id,)).fetchone():
                raise AlreadyExists(f"container with ID {id} already exists: container already exists")
            if pod_id and not conn.execute("SELECT 1 FROM pods WHERE id = ?", (pod_id,)).fetchone():
                raise NoSuchPod(f'no pod with name or ID "{pod_id}" found: no such pod')
            self._claim_name(conn, name, "container", id)
            lock_id = self._allocate_lock(conn)
            config_dict["lock_id"] = lock_id
            conn.execute(
                "INSERT INTO containers (id, name, pod_id, config, state, lock_id) VALUES (?, ?, ?, ?, ?, ?)",
                (id, name, pod_id or None, _dump(config_dict), _dump(state), lock_id),
            )
        return lock_id

    def get_container(self, id: str) -> Record:
        rows = self._read("SELECT config, state FROM containers WHERE id = ?", (id,))
        if not rows:
            raise NoSuchContainer(f'no container with ID "{id}" found: no such container')
        return _load(rows[0][0]), _load(rows[0][1])

    def container_exists(self, id: str) -> bool:
        return bool(self._read("SELECT 1 FROM containers WHERE id = ?", (id,)))

    def lookup_container(self, name_or_id: str) -> str:
        """Full ID, then exact name, then a unique ID prefix."""
        return self._lookup("containers", "container", name_or_id, NoSuchContainer, "container")

    def all_containers(self) -> list[Record]:
        """Every container's (config, state), in creation order; one query.

        A row that does not decode is left out: a warning names it once, and its ID is kept in
        ``corrupt_containers`` (``rm -f`` can still remove it by name or ID).
        """
        records: list[Record] = []
        for ident, c, s in self._read("SELECT id, config, state FROM containers ORDER BY rowid"):
            try:
                records.append((_load(c), _load(s)))
            except DatabaseError as exc:
                self._report_corrupt(ident, exc)
        return records

    def container_configs_mentioning(self, text: str) -> list[dict[str, Any]]:
        """Configs of the containers whose stored config contains ``text`` (e.g. an ID they
        require): SQLite filters the rows, so only those few are decoded, not every one."""
        configs = []
        for ident, c in self._read("SELECT id, config FROM containers WHERE instr(config, ?) > 0", (text,)):
            try:
                configs.append(_load(c))
            except DatabaseError as exc:
                self._report_corrupt(ident, exc)
        return configs

    def _report_corrupt(self, ident: str, exc: Exception) -> None:
        corrupt = self.corrupt_containers
        if ident not in corrupt:
            import logging

            logging.getLogger("pypod").warning("WARN[0000] skipping container %s: %s", ident, exc)
        corrupt[ident] = str(exc)

    def raw_container(self, id: str) -> tuple[str, str, int]:
        """The undecoded config and state text and the lock number of a container row."""
        rows = self._read("SELECT config, state, lock_id FROM containers WHERE id = ?", (id,))
        if not rows:
            raise NoSuchContainer(f'no container with ID "{id}" found: no such container')
        return rows[0][0], rows[0][1], int(rows[0][2])

    def pod_containers(self, pod_id: str) -> list[Record]:
        rows = self._read("SELECT id, config, state FROM containers WHERE pod_id = ? ORDER BY rowid", (pod_id,))
        records: list[Record] = []
        for ident, c, s in rows:
            try:
                records.append((_load(c), _load(s)))
            except DatabaseError as exc:
                self._report_corrupt(ident, exc)
        return records

    def save_container_state(self, id: str, state: Any) -> None:
        with self.transaction() as conn:
            cur = conn.execute("UPDATE containers SET state = ? WHERE id = ?", (_dump(state), id))
            if cur.rowcount == 0:
                raise NoSuchContainer(f'no container with ID "{id}" found: no such container')

    def save_container_config(self, id: str, name: str, config: Any) -> None:
        """Rewrite a container's config (rename: the new name is claimed, the old freed)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT name FROM containers WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NoSuchContainer(f'no container with ID "{id}" found: no such container')
            if row[0] != name:
                self._claim_name(conn, name, "container", id)
                conn.execute("UPDATE containers SET name = ? WHERE id = ?", (name, id))
                conn.execute("DELETE FROM names WHERE name = ?", (row[0],))
            conn.execute("UPDATE containers SET config = ? WHERE id = ?", (_dump(config), id))

    def remove_container(self, id: str) -> None:
        """Delete the container, its exec sessions and name; free its lock number."""
        with self.transaction() as conn:
            row = conn.execute("SELECT name, lock_id FROM containers WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NoSuchContainer(f'no container with ID "{id}" found: no such container')
            conn.execute("DELETE FROM containers WHERE id = ?", (id,))
            conn.execute("DELETE FROM names WHERE name = ?", (row[0],))
            conn.execute("DELETE FROM locks WHERE num = ?", (row[1],))

    # --- pods -------------------------------------------------------------------------------
    def add_pod(self, id: str, name: str, config: Any, state: Any) -> int:
        config_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM pods WHERE id = ?", (id,)).fetchone():
                raise AlreadyExists(f"pod with ID {id} already exists: pod already exists")
            self._claim_name(conn, name, "pod", id)
            lock_id = self._allocate_lock(conn)
            config_dict["lock_id"] = lock_id
            conn.execute(
                "INSERT INTO pods (id, name, config, state, lock_id) VALUES (?, ?, ?, ?, ?)",
                (id, name, _dump(config_dict), _dump(state), lock_id),
            )
        return lock_id

    def get_pod(self, id: str) -> Record:
        rows = self._read("SELECT config, state FROM pods WHERE id = ?", (id,))
        if not rows:
            raise NoSuchPod(f'no pod with ID "{id}" found: no such pod')
        return _load(rows[0][0]), _load(rows[0][1])

    def lookup_pod(self, name_or_id: str) -> str:
        return self._lookup("pods", "pod", name_or_id, NoSuchPod, "pod")

    def all_pods(self) -> list[Record]:
        return [(_load(c), _load(s)) for c, s in self._read("SELECT config, state FROM pods ORDER BY rowid")]

    def save_pod_state(self, id: str, state: Any) -> None:
        with self.transaction() as conn:
            if conn.execute("UPDATE pods SET state = ? WHERE id = ?", (_dump(state), id)).rowcount == 0:
                raise NoSuchPod(f'no pod with ID "{id}" found: no such pod')

    def save_pod_config(self, id: str, config: Any) -> None:
        with self.transaction() as conn:
            if conn.execute("UPDATE pods SET config = ? WHERE id = ?", (_dump(config), id)).rowcount == 0:
                raise NoSuchPod(f'no pod with ID "{id}" found: no such pod')

    def remove_pod(self, id: str) -> None:
        """Delete an empty pod (InUse while containers still belong to it)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT name, lock_id FROM pods WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NoSuchPod(f'no pod with ID "{id}" found: no such pod')
            count = conn.execute("SELECT COUNT(*) FROM containers WHERE pod_id = ?", (id,)).fetchone()[0]
            if count:
                raise InUse(f"pod {id} has {count} containers: pod has containers")
            conn.execute("DELETE FROM pods WHERE id = ?", (id,))
            conn.execute("DELETE FROM names WHERE name = ?", (row[0],))
            conn.execute("DELETE FROM locks WHERE num = ?", (row[1],))

    # --- volumes -----------------------------------------------------------------------------
    def add_volume(self, name: str, config: Any, state: Any) -> int:
        config_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM volumes WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"volume with name {name} already exists: volume already exists")
            lock_id = self._allocate_lock(conn)
            config_dict["lock_id"] = lock_id
            conn.execute(
                "INSERT INTO volumes (name, config, state, lock_id) VALUES (?, ?, ?, ?)",
                (name, _dump(config_dict), _dump(state), lock_id),
            )
        return lock_id

    def get_volume(self, name: str) -> Record:
        rows = self._read("SELECT config, state FROM volumes WHERE name = ?", (name,))
        if not rows:
            raise NoSuchVolume(f'no volume with name "{name}" found: no such volume')
        return _load(rows[0][0]), _load(rows[0][1])

    def all_volumes(self) -> list[Record]:
        return [(_load(c), _load(s)) for c, s in self._read("SELECT config, state FROM volumes ORDER BY rowid")]

    def save_volume_state(self, name: str, state: Any) -> None:
        with self.transaction() as conn:
            if conn.execute("UPDATE volumes SET state = ? WHERE name = ?", (_dump(state), name)).rowcount == 0:
                raise NoSuchVolume(f'no volume with name "{name}" found: no such volume')

    def remove_volume(self, name: str) -> None:
        with self.transaction() as conn:
            row = conn.execute("SELECT lock_id FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NoSuchVolume(f'no volume with name "{name}" found: no such volume')
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
            conn.execute("DELETE FROM locks WHERE num = ?", (row[0],))

    # --- exec sessions ---------------------------------------------------------------------
    def add_exec_session(self, id: str, container_id: str, data: Any) -> None:
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM containers WHERE id = ?", (container_id,)).fetchone():
                raise NoSuchContainer(f'no container with ID "{container_id}" found: no such container')
            if conn.execute("SELECT 1 FROM exec_sessions WHERE id = ?", (id,)).fetchone():
                raise AlreadyExists(f"exec session with ID {id} already exists: exec session already exists")
            conn.execute(
                "INSERT INTO exec_sessions (id, container_id, data) VALUES (?, ?, ?)",
                (id, container_id, _dump(data)),
            )

    def get_exec_session(self, id: str) -> dict[str, Any]:
        rows = self._read("SELECT data FROM exec_sessions WHERE id = ?", (id,))
        if not rows:
            raise NoSuchExecSession(f"no exec session with ID {id} found: no such exec session")
        return _load(rows[0][0])

    def save_exec_session(self, id: str, data: Any) -> None:
        with self.transaction() as conn:
            if conn.execute("UPDATE exec_sessions SET data = ? WHERE id = ?", (_dump(data), id)).rowcount == 0:
                raise NoSuchExecSession(f"no exec session with ID {id} found: no such exec session")

    def exec_sessions_of(self, ctr_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT data FROM exec_sessions WHERE container_id = ? ORDER BY rowid", (ctr_id,))
        return [_load(r[0]) for r in rows]

    def remove_exec_session(self, id: str) -> None:
        with self.transaction() as conn:
            if conn.execute("DELETE FROM exec_sessions WHERE id = ?", (id,)).rowcount == 0:
                raise NoSuchExecSession(f"no exec session with ID {id} found: no such exec session")

    # --- checks ------------------------------------------------------------------------------
    def integrity_check(self) -> str:
        """"ok", or one line per problem (SQLite's own check, names, lock numbers, references)."""
        problems: list[str] = []
        for (line,) in self._read("PRAGMA integrity_check"):
            if line != "ok":
                problems.append(line)
        for row in self._read("PRAGMA foreign_key_check"):
            problems.append(f"foreign key violation in table {row[0]} (row {row[1]}) -> {row[2]}")
        orphan_names = self._read(
            "SELECT name FROM names WHERE name NOT IN (SELECT name FROM containers UNION ALL SELECT name FROM pods)"
        )
        problems += [f'name "{n}" belongs to no container or pod' for (n,) in orphan_names]
        orphan_locks = self._read(
            "SELECT num FROM locks WHERE num NOT IN (SELECT lock_id FROM containers UNION ALL "
            "SELECT lock_id FROM pods UNION ALL SELECT lock_id FROM volumes)"
        )
        problems += [f"lock {n} is allocated but unused" for (n,) in orphan_locks]
        shared = self._read(
            "SELECT lock_id FROM (SELECT lock_id FROM containers UNION ALL SELECT lock_id FROM pods "
            "UNION ALL SELECT lock_id FROM volumes) GROUP BY lock_id HAVING COUNT(*) > 1"
        )
        problems += [f"lock {n} is shared by several objects" for (n,) in shared]
        return "\n".join(problems) if problems else "ok"
