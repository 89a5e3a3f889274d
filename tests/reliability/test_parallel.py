"""Parallel commands: 8 workers run random mixed operations on shared and own containers.

Checks: no "database is locked" and no Traceback anywhere; read commands always succeed; the
final state of each worker's own containers matches a sequential replay of the operations
that succeeded (own containers are touched by one worker only, so the replay is exact);
shared containers end in a coherent state; then the full store check.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest
from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod, Result
from relcheck import LONG_RUNNING, assert_store_sane, seeded_rng

WORKERS = 8
SHORT_OPS = 8
LONG_OPS = 50
SHARED = ("shared0", "shared1")
BAD_WORDS = ("database is locked", "Traceback")
OPS = ("run", "exec", "stop", "start", "rm", "ps", "inspect", "pause", "unpause")


@dataclass
class Op:
    worker: int
    op: str
    target: str
    result: Result


def _worker(p: Pypod, index: int, ops: int, seed: int, log: list[Op], lock: threading.Lock) -> None:
    import random

    rng = random.Random(seed * 1000 + index)
    own: str | None = None
    serial = 0
    for _ in range(ops):
        op = rng.choice(OPS)
        shared = rng.random() < 0.3
        target = rng.choice(SHARED) if shared else own
        if op == "run" or (target is None and op not in ("ps",)):
            serial += 1
            own = target = f"w{index}-{serial}"
            argv = ["run", "-d", "--name", own, BUSYBOX_IMAGE, *LONG_RUNNING.split()]
            op = "run"
        elif op == "exec":
            argv = ["exec", target, "true"]
        elif op == "stop":
            argv = ["stop", "-t", "0", target]
        elif op == "rm":
            if shared:
                argv, op = ["inspect", target], "inspect"  # shared containers stay
            else:
                argv = ["rm", "-f", "-t", "0", target]
        elif op == "ps":
            argv, target = ["ps", "-a"], ""
        elif op == "inspect":
            argv = ["inspect", target]
        else:
            argv = [op, target]
        result = p(*argv, timeout=180)
        with lock:
            log.append(Op(index, op, target or "", result))


def _expected_own_states(log: list[Op]) -> dict[str, str]:
    """Replay the successful operations on own containers: name -> running|exited|paused|gone."""
    state: dict[str, str] = {}
    effect = {"run": "running", "start": "running", "unpause": "running", "stop": "exited",
              "pause": "paused", "rm": "gone"}
    for entry in log:
        if entry.target in SHARED or not entry.target or entry.result.rc != 0:
            continue
        if entry.op in effect:
            state[entry.target] = effect[entry.op]
    return state


def _run(p: Pypod, ops: int) -> None:
    rng, seed = seeded_rng("parallel")
    for name in SHARED:
        p.ok("run", "-d", "--name", name, BUSYBOX_IMAGE, *LONG_RUNNING.split())
    log: list[Op] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_worker, args=(p, i, ops, seed, log, lock)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "a worker did not finish"
    assert len(log) == WORKERS * ops
    for entry in log:
        for word in BAD_WORDS:
            assert word not in entry.result.err, entry.result.describe()
        if entry.op in ("ps", "run"):
            assert entry.result.rc == 0, entry.result.describe()
        # an exec whose container another worker stops meanwhile is killed with it, as in podman
        legal = (0, 125, 137) if entry.op == "exec" else (0, 125)
        assert entry.result.rc in legal, entry.result.describe()
    print(f"parallel: {len(log)} operations, {sum(e.result.rc == 0 for e in log)} succeeded")

    listing = p.ok("ps", "-a", "--format", "{{.Names}} {{.State}}").out.split("\n")
    actual = dict(line.split(" ", 1) for line in listing if line.strip())
    for name, want in _expected_own_states(log).items():
        if want == "gone":
            assert name not in actual, f"{name} was removed but is listed ({actual.get(name)})"
        else:
            assert name in actual, f"{name} should be {want} but is gone"
            assert actual[name].startswith(want), f"{name}: expected {want}, ps says {actual[name]}"
    for name in SHARED:
        info = json.loads(p.ok("container", "inspect", name).out)[0]["State"]
        assert info["Status"] in ("running", "paused", "exited"), info
        if info["Status"] == "running":
            p.ok("exec", name, "true")
    assert_store_sane(p)


def test_parallel_short(busybox_pypod: Pypod) -> None:
    _run(busybox_pypod, SHORT_OPS)


@pytest.mark.slow
def test_parallel_long(busybox_pypod: Pypod) -> None:
    _run(busybox_pypod, LONG_OPS)
