"""pypod vs podman, side by side on this machine, in one run.

Usage: ``make bench`` or ``.venv/bin/python bench/run.py [--quick] [--reps N] [--only a,b]``.
Both engines get private roots and the same busybox image; runs are interleaved
(pypod, podman, pypod, ...) after warm-ups; medians, spread (min-max) and the ratio
pypod/podman are written to bench/RESULTS.md and printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from pypodcli import build_busybox_rootfs_tar  # noqa: E402  (the same rootfs as the tests)

PYPOD = str(REPO / ".venv" / "bin" / "pypod")
IMAGE = "localhost/busybox:latest"
SCENARIOS = ("floors", "version", "run", "lifecycle", "bridge", "pods", "parallel", "ps", "images", "load",
             "export", "memory")


@dataclass
class Row:
    name: str
    pypod: list[float] = field(default_factory=list)
    podman: list[float] = field(default_factory=list)
    unit: str = "ms"
    note: str = ""


class Engine:
    """One engine (pypod or podman) with private roots."""

    def __init__(self, name: str, binary: list[str], base: Path) -> None:
        self.name = name
        self.base = base / name
        for sub in ("root", "run", "tmp"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        self.argv = [*binary, "--root", str(self.base / "root"), "--runroot", str(self.base / "run"),
                     "--tmpdir", str(self.base / "tmp")]

    def cmd(self, *args: str) -> list[str]:
        return [*self.argv, *args]

    def run(self, *args: str, check: bool = True, stdin: bytes | None = None) -> str:
        res = subprocess.run(self.cmd(*args), capture_output=True, input=stdin, timeout=600)
        if check and res.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {res.stderr.decode(errors='replace')}")
        return res.stdout.decode(errors="replace")

    def clean(self) -> None:
        self.run("rm", "-af", "-t", "0", check=False)
        self.run("pod", "rm", "-af", check=False)


def timed(argv: list[str]) -> float:
    # A blocking wait: `subprocess.run(timeout=...)` polls waitpid with sleeps of up to 50 ms,
    # which quantised every measurement (and added up to 50 ms to it).
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    try:
        proc.wait()
    finally:
        watchdog.cancel()
    return (time.perf_counter() - start) * 1000


def measure(row: Row, reps: int, warmup: int, actions: dict[str, Callable[[], float]]) -> Row:
    for _ in range(warmup):
        for fn in actions.values():
            fn()
    for _ in range(reps):
        for name, fn in actions.items():
            getattr(row, name).append(fn())
    return row


def both(engines: dict[str, Engine], make: Callable[[Engine], Callable[[], float]]) -> dict[str, Callable[[], float]]:
    return {name: make(eng) for name, eng in engines.items()}


def create_many(eng: Engine, n: int) -> None:
    have = int(eng.run("ps", "-aq").count("\n"))
    def one(_i: int) -> None:
        eng.run("create", "--network", "none", IMAGE, "true")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(max(0, n - have))))


def rss_of(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total  # kB


def engine_processes(eng: Engine) -> list[int]:
    """PIDs of this engine's own processes: conmon, and pypod/podman processes (scheduler, exit command).

    Matched on the executable (argv[0], or `python -m pypod` / a lean `python -c 'from pypod.…'`), not
    on any word of the command line: the bench root is /tmp/pypod-bench-*, so every runc process with
    `--root <base>/run/runc` also contained "pypod" and the transient `runc exec` of each healthcheck
    (~10 MB each, several at once with 50 checks a second) was counted as a resident pypod process.
    """
    marker = str(eng.base)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if marker not in "\0".join(argv):
            continue
        exe = os.path.basename(argv[0])
        if exe in ("conmon", "pypod", "podman") or (
            exe.startswith("python")
            and (any(os.path.basename(a) == "pypod" for a in argv[1:3])  # -m pypod, or the -IS launcher
                 or any("from pypod." in a for a in argv[1:5]))
        ):
            pids.append(int(entry))
    return pids


def bundle_floor(base: Path, rootfs_tar: Path, reps: int) -> list[float]:
    """`runc run` of a prepared bundle running `true`: the floor under any engine."""
    bundle = base / "bundle"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(rootfs_tar), "-C", str(rootfs)], check=True)
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    import json

    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    spec["process"]["rlimits"] = []
    (bundle / "config.json").write_text(json.dumps(spec))
    state = base / "runc-state"
    times = []
    for i in range(reps + 2):
        t = timed(["runc", "--root", str(state), "run", "--bundle", str(bundle), f"floor{i}"])
        if i >= 2:
            times.append(t)
    return times


def engine_bundle_floor(base: Path, rootfs_tar: Path, podman: "Engine", reps: int) -> list[float]:
    """`runc run` of the bundle podman itself generates for `create --network none busybox true`.

    The same runc, but with what every podman (and pypod) container gets: the default seccomp
    filter, capabilities, masked and read-only paths, its own namespaces and cgroup.  This is
    runc's share of `run --rm` that no engine can avoid.
    """
    import json

    cid = podman.run("create", "--network", "none", IMAGE, "true").strip()
    podman.run("init", cid)
    userdata = podman.base / "root" / "overlay-containers" / cid / "userdata"
    spec = json.loads((userdata / "config.json").read_text())
    bundle = base / "engine-bundle"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(rootfs_tar), "-C", str(rootfs)], check=True)
    spec["root"]["path"] = str(rootfs)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    spec.pop("hooks", None)
    state = base / "runc-state-engine"
    times = []
    try:
        for i in range(reps + 2):
            spec["linux"]["cgroupsPath"] = f"/pypod-bench-floor/run{i}"
            (bundle / "config.json").write_text(json.dumps(spec))
            t = timed(["runc", "--root", str(state), "run", "--bundle", str(bundle), f"efloor{i}"])
            if i >= 2:
                times.append(t)
    finally:
        podman.run("rm", "-f", cid, check=False)
    return times


def fmt(values: list[float], unit: str) -> str:
    if not values:
        return "–"
    med = statistics.median(values)
    if unit == "s":
        return f"{med / 1000:.2f} s ({min(values) / 1000:.2f}–{max(values) / 1000:.2f})"
    if unit == "MB":
        return f"{med:.1f} MB"
    return f"{med:.1f} ({min(values):.1f}–{max(values):.1f})"


def floor_multiples(rows: list[Row]) -> str:
    """`run --rm --network none` of each engine as a multiple of each runc floor."""
    by_name = {r.name: r for r in rows}
    run = by_name.get("run --rm --network none busybox true")
    floors = [r for r in rows if r.name.startswith("floor: runc")]
    if run is None or not run.pypod or not floors:
        return ""
    lines = []
    for floor in floors:
        base = statistics.median(floor.pypod)
        parts = [f"{name} {statistics.median(getattr(run, name)) / base:.1f}×"
                 for name in ("pypod", "podman") if getattr(run, name)]
        lines.append(f"- `run --rm --network none` / {floor.name.removeprefix('floor: ')}: {', '.join(parts)}")
    return "\n" + "\n".join(lines) + "\n"


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | pypod | podman | pypod/podman |", "|---|---|---|---|"]
    for r in rows:
        ratio = "–"
        if r.pypod and r.podman and statistics.median(r.podman) > 0:
            ratio = f"{statistics.median(r.pypod) / statistics.median(r.podman):.2f}"
        name = f"{r.name} [{r.unit}]" + (f" — {r.note}" if r.note else "")
        lines.append(f"| {name} | {fmt(r.pypod, r.unit)} | {fmt(r.podman, r.unit)} | {ratio} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and containers (a smoke run)")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--only", default="", help=f"comma list of: {','.join(SCENARIOS)}")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--pypod", default=PYPOD, help="the pypod command to measure (e.g. a wrapper of an older tree)")
    opts = ap.parse_args()
    # An installed package has its bytecode compiled; a work tree run with PYTHONDONTWRITEBYTECODE
    # would otherwise recompile every changed module in every command and measure the compiler.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], stdout=subprocess.DEVNULL, check=False)
    reps = opts.reps or (3 if opts.quick else 10)
    warm = 1 if opts.quick else 2
    big = 100 if opts.quick else 1000
    only = set(opts.only.split(",")) if opts.only else set(SCENARIOS)
    if shutil.which("podman") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "podman"], check=True)
    base = Path(tempfile.mkdtemp(prefix="pypod-bench-"))
    rows: list[Row] = []
    engines = {"pypod": Engine("pypod", [opts.pypod], base), "podman": Engine("podman", ["podman"], base)}
    try:
        tar = base / "busybox-rootfs.tar"
        build_busybox_rootfs_tar(tar)
        engines["pypod"].run("import", "--change", 'CMD ["sh"]', str(tar), IMAGE)
        archive = base / "busybox.tar"
        engines["pypod"].run("save", "-o", str(archive), IMAGE)
        engines["podman"].run("load", "-i", str(archive))

        if "floors" in only:
            rows.append(Row("floor: runc run of a prepared bundle (true)", pypod=bundle_floor(base, tar, reps)))
            rows.append(Row("floor: runc run of podman's own bundle (seccomp, caps, masks)",
                            pypod=engine_bundle_floor(base, tar, engines["podman"], reps)))
            py = [timed([sys.executable, "-S", "-c", "pass"]) for _ in range(reps)]
            rows.append(Row("floor: python -S -c pass", pypod=py))
        if "version" in only:
            rows.append(measure(Row("--version"), reps, warm, both(engines, lambda e: lambda: timed(e.cmd("--version")))))
        if "run" in only:
            rows.append(measure(Row("run --rm --network none busybox true"), reps, warm,
                                both(engines, lambda e: lambda: timed(e.cmd("run", "--rm", "--network", "none", IMAGE, "true")))))
        if "lifecycle" in only:
            def cycle(e: Engine) -> Callable[[], float]:
                def go() -> float:
                    start = time.perf_counter()
                    cid = e.run("create", "--network", "none", IMAGE, "sleep", "100").strip()
                    e.run("start", cid)
                    e.run("stop", "-t", "0", cid)
                    e.run("rm", cid)
                    return (time.perf_counter() - start) * 1000
                return go
            rows.append(measure(Row("create + start + stop -t 0 + rm"), reps, warm, both(engines, cycle)))
        if "bridge" in only:
            rows.append(measure(Row("run --rm busybox true (default bridge network)"), reps, warm,
                                both(engines, lambda e: lambda: timed(e.cmd("run", "--rm", IMAGE, "true")))))
        if "pods" in only:
            def pod(e: Engine) -> Callable[[], float]:
                def go() -> float:
                    start = time.perf_counter()
                    e.run("pod", "create", "--name", "benchpod")
                    e.run("pod", "rm", "-f", "benchpod")
                    return (time.perf_counter() - start) * 1000
                return go
            rows.append(measure(Row("pod create + pod rm"), reps, warm, both(engines, pod)))
        if "parallel" in only:
            def par(e: Engine) -> Callable[[], float]:
                def go() -> float:
                    start = time.perf_counter()
                    with ThreadPoolExecutor(8) as pool:
                        list(pool.map(lambda _i: e.run("run", "-d", "--network", "none", IMAGE, "sleep", "100"), range(20)))
                    e.run("rm", "-af", "-t", "0")
                    return (time.perf_counter() - start) * 1000
                return go
            rows.append(measure(Row("20 x run -d (8 in parallel) + rm -af", unit="s"), max(3, reps // 3), 1, both(engines, par)))
        if "memory" in only:
            mem = Row("resident memory of engine processes, 20 running containers", unit="MB")
            for name, e in engines.items():
                for _ in range(20):
                    e.run("run", "-d", "--network", "none", IMAGE, "sleep", "1000")
                pids = engine_processes(e)
                getattr(mem, name).append(rss_of(pids) / 1024)
                mem.note += f"{', ' if mem.note else ''}{name}: {len(pids)} processes"
                e.clean()
            rows.append(mem)
            hc = Row("resident memory, 50 containers with a 1 s healthcheck", unit="MB")
            for name, e in engines.items():
                for _ in range(50):
                    e.run("run", "-d", "--network", "none", "--health-cmd", "true", "--health-interval", "1s",
                          IMAGE, "sleep", "1000")
                time.sleep(3)  # let the checks run (a measurement window, not synchronisation)
                pids = engine_processes(e)
                getattr(hc, name).append(rss_of(pids) / 1024)
                hc.note += f"{', ' if hc.note else ''}{name}: {len(pids)} processes"
                e.clean()
            rows.append(hc)
        if "ps" in only:
            for n in (0, 100, big):
                for e in engines.values():
                    create_many(e, n)
                rows.append(measure(Row(f"ps -a with {n} containers"), reps, warm,
                                    both(engines, lambda e: lambda: timed(e.cmd("ps", "-a")))))
                if n == big:
                    rows.append(measure(Row(f"inspect of one container among {n}"), reps, warm,
                                        both(engines, lambda e: lambda: timed(e.cmd("inspect", e.run("ps", "-aq", "-n", "1").strip() or "x")))))
            for e in engines.values():
                e.clean()
        if "images" in only:
            rows.append(measure(Row("images with 1 image"), reps, warm, both(engines, lambda e: lambda: timed(e.cmd("images")))))
            # 100 distinct images: a one-file root filesystem each, imported into both engines
            small = base / "small"
            small.mkdir()
            for i in range(100):
                (small / "id").write_text(f"image {i}\n")
                tar_i = base / f"small{i}.tar"
                subprocess.run(["tar", "-cf", str(tar_i), "-C", str(small), "."], check=True)
                for e in engines.values():
                    e.run("import", str(tar_i), f"localhost/small{i}:latest")
            rows.append(measure(Row("images with 101 images"), reps, warm, both(engines, lambda e: lambda: timed(e.cmd("images")))))
        if "load" in only or "export" in only:
            big_tar = base / "big.tar"
            payload = base / "payload"
            payload.mkdir()
            with open(payload / "blob", "wb") as f:
                for _ in range(200):
                    f.write(os.urandom(1024 * 1024))
            subprocess.run(["tar", "-cf", str(base / "big-rootfs.tar"), "-C", str(payload), "."], check=True)
            engines["pypod"].run("import", str(base / "big-rootfs.tar"), "localhost/big:latest")
            engines["pypod"].run("save", "-o", str(big_tar), "localhost/big:latest")
            if "load" in only:
                def load(e: Engine) -> Callable[[], float]:
                    def go() -> float:
                        e.run("rmi", "-f", "localhost/big:latest", check=False)
                        return timed(e.cmd("load", "-i", str(big_tar)))
                    return go
                rows.append(measure(Row("load of a 200 MB docker-archive", unit="s"), max(3, reps // 2), 1, both(engines, load)))
            if "export" in only:
                for e in engines.values():
                    e.run("load", "-i", str(big_tar), check=False)
                    e.run("create", "--name", "bigctr", "localhost/big:latest", "true")
                out = base / "export.tar"
                rows.append(measure(Row("export of a container holding 200 MB", unit="s"), max(3, reps // 2), 1,
                                    both(engines, lambda e: lambda: timed(e.cmd("export", "-o", str(out), "bigctr")))))
    finally:
        for e in engines.values():
            try:
                e.clean()
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning
                print(f"clean-up of {e.name} failed: {exc}", file=sys.stderr)
        subprocess.run(["umount", "-R", "-l", str(base)], stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = f"{platform.node()}, {os.cpu_count()} CPUs, kernel {platform.release()}, Python {platform.python_version()}"
    text = (f"# Benchmark results\n\n{stamp} on {machine}; {reps} repetitions after {warm} warm-up(s), "
            f"medians in ms unless noted, (min–max).\n\n{table(rows)}\n{floor_multiples(rows)}")
    Path(opts.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
