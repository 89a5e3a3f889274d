"""The file event log: write, read, filters, rotation, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time

import pytest

from pypod.errors import InvalidArgument
from pypod.libpod.events import EventLog, EventView, format_human


def _log(tmp_path) -> EventLog:  # type: ignore[no-untyped-def]
    return EventLog(str(tmp_path / "events" / "events.log"))


def test_write_uses_podman_fields(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    log.write("container", "died", id="a" * 64, name="c1", image="busybox", attributes={"l": "v"}, exit_code=3)
    log.write("volume", "create", name="v1")
    lines = (tmp_path / "events" / "events.log").read_text().splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["ContainerExitCode", "ID", "Image", "Name", "Status", "Time", "Type", "Attributes"]
    assert first["ContainerExitCode"] == 3 and first["Attributes"] == {"l": "v"}
    assert first["Time"].endswith("Z") and "T" in first["Time"]
    assert json.loads(lines[1]) == {**json.loads(lines[1]), "Name": "v1", "Type": "volume", "Attributes": None}


def test_read_filters_and_times(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    log.write("container", "create", id="1" * 64, name="one", image="img", attributes={"app": "x"})
    log.write("container", "start", id="2" * 64, name="two", image="img", attributes={})
    log.write("volume", "create", name="vol")
    log.write("image", "pull", id="3" * 64, name="img")
    events = list(log.read())
    assert [e["Status"] for e in events] == ["create", "start", "create", "pull"]

    def statuses(*filters: str) -> list[str]:
        return [e["Status"] + ":" + e.get("Name", "") for e in log.read(filters=filters)]

    assert statuses("type=volume") == ["create:vol"]
    assert statuses("event=start") == ["start:two"]
    assert statuses("status=create", "type=container") == ["create:one"]
    assert statuses("container=one") == ["create:one"]
    assert statuses("container=2222") == ["start:two"]
    assert statuses("container=one", "container=two") == ["create:one", "start:two"]
    assert statuses("label=app=x") == ["create:one"]
    assert statuses("label=app") == ["create:one"]
    assert statuses("volume=vol") == ["create:vol"]
    assert statuses("image=img") == ["create:one", "start:two", "pull:img"]
    future = time.time() + 100
    assert list(log.read(since=future)) == []
    assert len(list(log.read(until=future))) == 4
    with pytest.raises(InvalidArgument, match="invalid filter"):
        list(log.read(filters=["bogus=1"]))
    with pytest.raises(InvalidArgument):
        list(log.read(filters=["novalue"]))


def test_read_missing_file_is_empty(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert list(_log(tmp_path).read()) == []


def test_follow_sees_new_events_and_stops(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    log.write("system", "refresh")
    stop = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        for event in log.read(follow=True, stop_when=stop.is_set):
            seen.append(event["Status"])
            if event["Status"] == "last":
                stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        log.write("container", "start", id="x")
        log.write("system", "last")
        thread.join(30)
    finally:
        stop.set()
        thread.join(30)
    assert seen == ["refresh", "start", "last"]


def test_follow_ends_when_until_passes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path)
    log.write("system", "refresh")
    start = time.monotonic()
    events = list(log.read(follow=True, until=time.time() + 0.3))
    assert [e["Status"] for e in events] == ["refresh"]
    assert time.monotonic() - start < 20


def test_rotation_keeps_newer_half(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = EventLog(str(tmp_path / "events.log"), max_size=20_000)
    for i in range(400):
        log.write("container", "start", id=f"{i:064d}", name=f"c{i}")
    size = os.path.getsize(log.path)
    assert size <= 20_000
    names = [e["Name"] for e in log.read()]
    assert names[-1] == "c399"
    numbers = [int(n[1:]) for n in names]
    assert numbers == list(range(numbers[0], 400))  # contiguous, newest kept
    assert len(numbers) > 20


def _writer(path: str, worker: int, count: int, max_size: int) -> None:
    log = EventLog(path, max_size=max_size)
    for i in range(count):
        log.write("container", "exec", id=f"w{worker}", name=f"{worker}-{i}")


@pytest.mark.parametrize("max_size", [10**9, 60_000])
def test_concurrent_writers_lose_no_line(tmp_path, max_size: int) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "events.log")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 250, max_size)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    events = [json.loads(line) for line in lines]  # every line is whole JSON
    names = [e["Name"] for e in events]
    if max_size > 10**8:
        assert len(names) == 1000 and len(set(names)) == 1000
    else:
        # after rotations the file is a suffix of the append order: each writer's surviving
        # events are a contiguous run ending with its last one (a writer that finished early
        # may have been rotated out entirely)
        assert names and names[-1].endswith("-249")
        for w in range(4):
            mine = [int(n.split("-")[1]) for n in names if n.startswith(f"{w}-")]
            if mine:
                assert mine == list(range(mine[0], 250))


def test_human_format_like_podman() -> None:
    event = {"ID": "a" * 64, "Image": "localhost/busybox:latest", "Name": "c1", "Status": "create",
             "Time": "2026-12-07T01:11:48.63107174Z", "Type": "container", "Attributes": {}}
    assert format_human(event) == (
        "2026-12-07 01:11:48.63107174 +0000 UTC container create " + "a" * 64
        + " (image=localhost/busybox:latest, name=c1)"
    )
    assert format_human(event, no_trunc=False).split()[6] == "a" * 12
    vol = {"Name": "v1", "Status": "create", "Time": "2026-12-07T01:11:44.984261862Z", "Type": "volume"}
    assert format_human(vol) == "2026-12-07 01:11:44.984261862 +0000 UTC volume create v1"
    sysev = {"Status": "refresh", "Time": "2026-12-07T01:11:44Z", "Type": "system"}
    assert format_human(sysev) == "2026-12-07 01:11:44 +0000 UTC system refresh"


def test_event_view_for_templates() -> None:
    from pypod.cli.gotemplate import render
    from pypod.errors import TemplateError

    view = EventView.of({"Status": "start", "Time": "2026-12-07T01:11:44.5Z", "Type": "container",
                         "Attributes": None})
    assert render("{{.Time}} {{.Type}} {{.Status}} {{.Name}}|", view) == \
        "2026-12-07 01:11:44.5 +0000 UTC container start |"
    with pytest.raises(TemplateError, match="can't evaluate field Foo"):
        render("{{.Foo}}", view)
