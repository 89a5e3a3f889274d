"""Shared helpers for tests: run the pypod CLI in private roots, wait on conditions, build images.

Every test that drives the engine uses :class:`Pypod`, which runs ``python -m pypod`` as a
subprocess with its own ``--root``, ``--runroot`` and ``--tmpdir``, so tests never touch
``/var/lib/pypod`` or ``/run/pypod``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

SRC_DIR = str(Path(__file__).resolve().parent.parent / "src")
BUSYBOX = "/bin/busybox"
DEFAULT_TIMEOUT = 120.0
# Fixed timestamp so the same host busybox always gives the same tar (and layer digest).
ROOTFS_MTIME = 1_700_000_000

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"


@dataclass
class Result:
    """What a finished CLI call gave: exit code and decoded output."""

    args: list[str]
    rc: int
    out: str
    err: str

    @property
    def returncode(self) -> int:
        return self.rc

    @property
    def stdout(self) -> str:
        return self.out

    @property
    def stderr(self) -> str:
        return self.err

    def check(self) -> "Result":
        """Raise AssertionError with the whole call if rc is not 0; return self otherwise."""
        if self.rc != 0:
            raise AssertionError(self.describe())
        return self

    def describe(self) -> str:
        return (
            f"pypod {' '.join(self.args)} -> rc={self.rc}\n"
            f"--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"
        )

    def __str__(self) -> str:
        return self.describe()


def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = SRC_DIR + (os.pathsep + path if path else "")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if extra:
        env.update(extra)
    return env


@dataclass
class Pypod:
    """The pypod CLI bound to private directories under ``root_dir``."""

    root_dir: str | os.PathLike[str]
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        base = Path(self.root_dir)
        base.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.root = str(base / "root")
        self.runroot = str(base / "run")
        self.tmpdir = str(base / "tmp")

    @property
    def global_args(self) -> list[str]:
        return ["--root", self.root, "--runroot", self.runroot, "--tmpdir", self.tmpdir]

    def argv(self, *args: str) -> list[str]:
        """The full command line for ``pypod ARGS`` in these roots."""
        return [sys.executable, "-m", "pypod", *self.global_args, *map(str, args)]

    def __call__(
        self,
        *args: str,
        input: str | bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        check: bool = False,
    ) -> Result:
        """Run ``pypod ARGS`` to completion and return its :class:`Result`."""
        merged = dict(self.env)
        if env:
            merged.update(env)
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            self.argv(*args),
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=_child_env(merged),
        )
        result = Result(
            [str(a) for a in args],
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        return result.check() if check else result

    run = __call__

    def ok(self, *args: str, **kwargs: object) -> Result:
        """Run and assert exit code 0 (the AssertionError shows the output)."""
        return self(*args, check=True, **kwargs)  # type: ignore[arg-type]

    def popen(self, *args: str, env: Mapping[str, str] | None = None, **kwargs: object) -> subprocess.Popen:
        """Start ``pypod ARGS`` in the background (caller waits/kills it)."""
        merged = dict(self.env)
        if env:
            merged.update(env)
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.argv(*args), env=_child_env(merged), **kwargs)  # type: ignore[call-overload]


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 30,
    interval: float = 0.05,
    message: str = "",
) -> object:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises AssertionError naming ``message`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate!r}")
        time.sleep(interval)


def busybox_applets() -> list[str]:
    """Applet names of the host's static busybox."""
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout
    return sorted({name for name in out.split() if name and "/" not in name and name != "busybox"})


def build_busybox_rootfs_tar(path: str | os.PathLike[str]) -> str:
    """Write a minimal busybox root filesystem as an uncompressed tar at ``path``.

    Contents: /bin/busybox, /bin/<applet> symlinks, /etc/passwd and /etc/group (root,
    nobody), /tmp (1777), /root, /var. Deterministic for a given host busybox.
    """

    def add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = mode
        info.mtime = ROOTFS_MTIME
        tar.addfile(info)

    def add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        info.mtime = ROOTFS_MTIME
        tar.addfile(info, io.BytesIO(data))

    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin", "etc", "root", "var", "usr", "home"):
            add_dir(tar, name, 0o700 if name == "root" else 0o755)
        add_dir(tar, "tmp", 0o1777)
        add_file(tar, "bin/busybox", busybox, 0o755)
        for applet in busybox_applets():
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            info.mode = 0o777
            info.mtime = ROOTFS_MTIME
            tar.addfile(info)
        add_file(tar, "etc/passwd", PASSWD.encode())
        add_file(tar, "etc/group", GROUP.encode())
    return str(path)


def _filesystem_supported(name: str) -> bool:
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1] == name for line in f if line.strip()):
                return True
    except OSError:
        return False
    return os.path.isdir(f"/sys/module/{name}")


def missing_engine_parts() -> str | None:
    """A reason naming the missing host feature, or None when runc/conmon/busybox/overlay are there."""
    if os.geteuid() != 0:
        return "needs root (namespaces, mounts)"
    for binary in ("runc", "conmon"):
        if not (shutil.which(binary) or os.path.exists(f"/usr/libexec/podman/{binary}")):
            return f"{binary} is not installed"
    if not os.access(BUSYBOX, os.X_OK):
        return f"{BUSYBOX} (busybox-static) is not installed"
    if not _filesystem_supported("overlay"):
        return "the kernel has no overlay filesystem"
    return None


def mounts_under(*dirs: str) -> list[str]:
    """Mount points at or below any of ``dirs``, deepest first (from /proc/self/mountinfo)."""
    prefixes = [os.path.realpath(d).rstrip("/") for d in dirs]
    found: list[str] = []
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) < 5:
            continue
        point = parts[4].encode().decode("unicode_escape")
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def processes_mentioning(text: str, names: Sequence[str] = ("conmon",)) -> list[int]:
    """PIDs of processes named one of ``names`` whose command line contains ``text``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in names and text in cmdline:
            pids.append(int(entry))
    return pids
