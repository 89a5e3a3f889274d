"""conmon + runc for real: create, start, exit files, logs, exec, attach, pause/kill, security defaults."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from pypod.errors import CommandNotFound
from pypod.libpod.container.model import ContainerConfig
from pypod.libpod.oci.attach import attach
from pypod.libpod.oci.conmon import ConmonRequest, run_exec, start_conmon
from pypod.libpod.oci.exitfile import read_exit
from pypod.libpod.oci.runtime import OCIRuntime
from pypod.libpod.spec import DEFAULT_CAPS, GeneratedFiles, generate_spec

DEADLINE = 30.0
RUNC = shutil.which("runc")
CONMON = shutil.which("conmon")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc creates namespaces and cgroups)"),
    pytest.mark.skipif(RUNC is None, reason="runc is not installed"),
    pytest.mark.skipif(CONMON is None, reason="conmon is not installed"),
    pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="busybox-static (/bin/busybox) is not installed"),
]

ENGINE = SimpleNamespace(
    default_ulimits=["nofile=1024:1024", "nproc=4096:4096"],
    default_capabilities=[c[4:] for c in DEFAULT_CAPS],
    seccomp_profile="",
    init_path=shutil.which("catatonit") or "/usr/bin/catatonit",
    pids_limit=2048,
)


def wait_for(predicate, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline}s waiting for {what}")
        time.sleep(0.02)


class Bench:
    """A private bundle, runc state root and conmon directories for one container."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.id = uuid.uuid4().hex + uuid.uuid4().hex
        self.bundle = base / "b"
        self.rootfs = self.bundle / "rootfs"
        for sub in ("bin", "etc", "proc", "sys", "dev", "tmp", "run"):
            (self.rootfs / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2("/bin/busybox", self.rootfs / "bin" / "busybox")
        for applet in ("sh", "cat", "echo", "sleep", "grep", "touch", "true"):
            os.symlink("busybox", self.rootfs / "bin" / applet)
        (self.rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (self.rootfs / "etc" / "group").write_text("root:x:0:\n")
        self.run_dir = base / "run"
        self.run_dir.mkdir()
        self.exits = base / "exits"
        self.persist = base / "persist" / self.id
        self.runtime = OCIRuntime("runc", RUNC, str(base / "runc"))
        self.log = self.bundle / "ctr.log"
        self.created = False

    def create(self, command: list[str], *, stdin: bool = False, exit_command=None, **cfg_kw):
        cfg = ContainerConfig(id=self.id, name="t-" + self.id[:8], created="", command=command,
                              stdin=stdin, **cfg_kw)
        hostname = self.run_dir / "hostname"
        hostname.write_text("box\n")
        spec = generate_spec(cfg, {"config": {"Env": ["PATH=/bin"]}}, str(self.rootfs),
                             GeneratedFiles(hostname=str(hostname)), ENGINE)
        (self.bundle / "config.json").write_text(json.dumps(spec))
        req = ConmonRequest(
            ctr_id=self.id, name=cfg.name, bundle=str(self.bundle), runtime_path=RUNC,
            runtime_root=self.runtime.state_root, exit_dir=str(self.exits), persist_dir=str(self.persist),
            log_path=str(self.log), pid_file=str(self.run_dir / "pidfile"),
            conmon_pid_file=str(self.run_dir / "conmon.pid"), exit_command=exit_command or [],
            stdin=stdin, conmon_path=CONMON, oci_log=str(self.run_dir / "oci-log"),
        )
        self.created = True
        return start_conmon(req)

    def wait_exit(self):
        return wait_for(lambda: read_exit(str(self.exits), str(self.persist), self.id), "the exit file")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def cleanup(self) -> None:
        if self.created:
            subprocess.run([RUNC, "--root", self.runtime.state_root, "delete", "--force", self.id],
                           capture_output=True, check=False)
            conmon_pid = self.run_dir / "conmon.pid"
            if conmon_pid.exists():
                pid = int(conmon_pid.read_text().strip() or 0)
                if pid > 0:
                    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or _is_zombie(pid),
                             "conmon to exit", 10)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


@pytest.fixture()
def bench(tmp_path):
    b = Bench(tmp_path)
    try:
        yield b
    finally:
        b.cleanup()


def test_run_to_exit_with_log_and_exit_command(bench, tmp_path):
    marker = tmp_path / "exit-command-ran"
    result = bench.create(["sh", "-c", "echo hi; exit 3"],
                          exit_command=["/bin/sh", "-c", f"touch {marker}"])
    assert result.pid > 0 and result.conmon_pid > 0
    state = bench.runtime.state(bench.id)
    assert state is not None and state["status"] == "created" and state["pid"] == result.pid
    bench.runtime.start(bench.id)
    info = bench.wait_exit()
    assert info.code == 3 and info.oom is False
    assert info.finished_at.endswith("Z") and len(info.finished_at) == 30
    wait_for(lambda: " stdout F hi" in bench.log_text(), "the k8s-file log line")
    wait_for(marker.exists, "conmon's exit command")
    bench.runtime.delete(bench.id)
    assert bench.runtime.state(bench.id) is None
    bench.runtime.delete(bench.id)  # an unknown container is not an error


def test_missing_command_is_command_not_found(bench):
    with pytest.raises(CommandNotFound) as err:
        bench.create(["nosuchcmd"])
    assert err.value.exit_code == 127
    assert "nosuchcmd" in str(err.value)
    assert "OCI runtime attempted to invoke a command that was not found" in str(err.value)


def test_pause_resume_kill_state(bench):
    bench.create(["sleep", "1000"])
    bench.runtime.start(bench.id)
    assert bench.runtime.state(bench.id)["status"] == "running"
    bench.runtime.pause(bench.id)
    assert bench.runtime.state(bench.id)["status"] == "paused"
    bench.runtime.resume(bench.id)
    assert bench.runtime.state(bench.id)["status"] == "running"
    bench.runtime.kill(bench.id, 9)
    assert bench.wait_exit().code == 137
    wait_for(lambda: (bench.runtime.state(bench.id) or {}).get("status") == "stopped", "runc state stopped")
    bench.runtime.delete(bench.id)


def test_security_defaults_inside(bench):
    bench.create(["sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; "
                  "grep ' /proc/sys ' /proc/self/mountinfo; cat /etc/hostname"])
    bench.runtime.start(bench.id)
    assert bench.wait_exit().code == 0
    text = wait_for(lambda: "box" in bench.log_text() and bench.log_text(), "container output")
    assert "CapEff:\t00000000800405fb" in text
    assert "Seccomp:\t2" in text
    line = next(l for l in text.splitlines() if " /proc/sys " in l)
    assert " ro," in line or " ro " in line or line.split(" /proc/sys ")[1].startswith("ro")


def test_exec_exit_code_and_missing_command(bench):
    bench.create(["sleep", "1000"])
    bench.runtime.start(bench.id)
    process = {"args": ["sh", "-c", "exit 5"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    assert run_exec(bench.runtime, bench.id, process, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 5
    out = bench.base / "exec-out"
    with open(out, "wb") as fh:
        code = run_exec(bench.runtime, bench.id, {**process, "args": ["echo", "from-exec"]}, stdout=fh)
    assert code == 0 and out.read_text() == "from-exec\n"
    with pytest.raises(CommandNotFound):
        run_exec(bench.runtime, bench.id, {**process, "args": ["nosuchcmd"]},
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert run_exec(bench.runtime, bench.id, {**process, "args": ["sleep", "0"]}, detach=True) == 0
    bench.runtime.kill(bench.id, 9)
    bench.wait_exit()


def test_attach_stdin_stdout(bench):
    bench.create(["sh", "-c", "cat; echo done >&2"], stdin=True)
    bench.runtime.start(bench.id)
    out, err = io.BytesIO(), io.BytesIO()
    result: dict[str, str] = {}

    def run() -> None:
        result["how"] = attach(str(bench.bundle), stdin=io.BytesIO(b"hello\n"), stdout=out, stderr=err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert result.get("how") == "exited"
    assert out.getvalue() == b"hello\n"
    assert err.getvalue() == b"done\n"
    assert bench.wait_exit().code == 0


def test_attach_detach_keys(bench):
    bench.create(["sleep", "1000"], stdin=True)
    bench.runtime.start(bench.id)
    out = io.BytesIO()
    how = attach(str(bench.bundle), stdin=io.BytesIO(b"abc\x10\x11rest"), stdout=out, stderr=None)
    assert how == "detached"
    assert bench.runtime.state(bench.id)["status"] == "running"
    bench.runtime.kill(bench.id, 9)
    bench.wait_exit()
