"""EngineConfig: defaults, containers.conf, overrides, derived paths, global args."""

from __future__ import annotations

from pathlib import Path

import pytest

from pypod.errors import InvalidArgument
from pypod.libpod import config as config_mod
from pypod.libpod.config import DEFAULT_CAPABILITIES, EngineConfig, load_config


@pytest.fixture
def no_system_conf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ignore the host's containers.conf files (tests set CONTAINERS_CONF themselves)."""
    monkeypatch.setattr(config_mod, "SYSTEM_CONF_FILES", ())
    monkeypatch.delenv("CONTAINERS_CONF", raising=False)
    monkeypatch.delenv("CONTAINERS_CONF_OVERRIDE", raising=False)
    monkeypatch.delenv("STORAGE_DRIVER", raising=False)


def write_conf(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_defaults(no_system_conf: None) -> None:
    cfg = load_config()
    assert cfg.root == "/var/lib/pypod"
    assert cfg.runroot == "/run/pypod"
    assert cfg.tmpdir == "/run/pypod/libpod/tmp"
    assert cfg.storage_driver == "overlay"
    assert cfg.runtime == "runc"
    assert cfg.cgroup_manager == "cgroupfs"
    assert cfg.default_capabilities == DEFAULT_CAPABILITIES
    assert len(DEFAULT_CAPABILITIES) == 11 and "SYS_CHROOT" in DEFAULT_CAPABILITIES


def test_derived_paths(no_system_conf: None, tmp_path: Path) -> None:
    cfg = load_config(root=str(tmp_path / "r"), runroot=str(tmp_path / "rr"))
    assert cfg.tmpdir == str(tmp_path / "rr/libpod/tmp")
    assert cfg.db_path == str(tmp_path / "r/state.db")
    assert cfg.storage_root == str(tmp_path / "r/storage")
    assert cfg.volume_path == str(tmp_path / "r/volumes")
    assert cfg.exits_dir == cfg.tmpdir + "/exits"
    assert cfg.persist_dir == cfg.tmpdir + "/persist"
    assert cfg.locks_dir == cfg.tmpdir + "/locks"
    assert cfg.events_log == cfg.tmpdir + "/events/events.log"
    assert cfg.alive_path == cfg.tmpdir + "/alive"
    assert cfg.runtime_root == str(tmp_path / "rr/runc")
    assert cfg.container_static_dir("abc") == str(tmp_path / "r/storage/overlay-containers/abc/userdata")


def test_explicit_tmpdir_wins(no_system_conf: None, tmp_path: Path) -> None:
    cfg = load_config(runroot=str(tmp_path / "rr"), tmpdir=str(tmp_path / "t"))
    assert cfg.tmpdir == str(tmp_path / "t")


def test_none_overrides_are_ignored(no_system_conf: None) -> None:
    cfg = load_config(root=None, storage_driver=None, log_level=None)
    assert cfg.root == "/var/lib/pypod" and cfg.storage_driver == "overlay" and cfg.log_level == "warn"


def test_containers_conf_keys(no_system_conf: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_runc = tmp_path / "my-runc"
    fake_runc.write_text("#!/bin/sh\n")
    fake_runc.chmod(0o755)
    conf = write_conf(
        tmp_path / "c.conf",
        f"""
[containers]
default_ulimits = ["nofile=1024:2048"]
default_capabilities = ["CHOWN", "cap_kill"]
seccomp_profile = "/x/seccomp.json"

[network]
network_config_dir = "/x/networks"

[engine]
runtime = "runc"
hooks_dir = ["/x/hooks"]
events_logger = "none"
conmon_path = ["/nonexistent/conmon"]
tmp_dir = "{tmp_path}/conftmp"

[engine.runtimes]
runc = ["/nonexistent/runc", "{fake_runc}"]
""",
    )
    monkeypatch.setenv("CONTAINERS_CONF", conf)
    cfg = load_config()
    assert cfg.default_ulimits == ["nofile=1024:2048"]
    assert cfg.default_capabilities == ["CHOWN", "KILL"]
    assert cfg.seccomp_profile == "/x/seccomp.json"
    assert cfg.network_config_dir == "/x/networks"
    assert cfg.hooks_dirs == ["/x/hooks"]
    assert cfg.events_logger == "none"
    assert cfg.runtime_path == str(fake_runc)
    assert cfg.conmon_paths == ["/nonexistent/conmon"]
    assert cfg.tmpdir == f"{tmp_path}/conftmp"


def test_later_conf_overrides_key_by_key(no_system_conf: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_conf(tmp_path / "a.conf", '[engine]\nevents_logger = "none"\nruntime = "crun"\n')
    second = write_conf(tmp_path / "b.conf", '[engine]\nruntime = "runc"\n')
    monkeypatch.setattr(config_mod, "SYSTEM_CONF_FILES", (first,))
    monkeypatch.setenv("CONTAINERS_CONF", second)
    cfg = load_config()
    assert cfg.runtime == "runc"
    assert cfg.events_logger == "none"


def test_bad_toml_is_a_clear_error(no_system_conf: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", write_conf(tmp_path / "bad.conf", "[engine\n"))
    with pytest.raises(InvalidArgument, match="bad.conf"):
        load_config()


def test_missing_conf_file_is_ignored(no_system_conf: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", "/nonexistent/containers.conf")
    assert load_config().runtime == "runc"


def test_storage_driver_env_and_validation(no_system_conf: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_DRIVER", "vfs")
    assert load_config().storage_driver == "vfs"
    assert load_config(storage_driver="overlay").storage_driver == "overlay"
    with pytest.raises(InvalidArgument, match="btrfs"):
        load_config(storage_driver="btrfs")
    with pytest.raises(InvalidArgument, match="loud"):
        load_config(log_level="loud")


def test_unknown_override_is_a_programming_error(no_system_conf: None) -> None:
    with pytest.raises(TypeError):
        load_config(rooot="/x")


def test_runtime_given_as_path(no_system_conf: None, tmp_path: Path) -> None:
    binary = tmp_path / "rt"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    cfg = load_config(runtime=str(binary))
    assert cfg.runtime == "rt"
    assert cfg.runtime_path == str(binary)
    args = cfg.global_args()
    assert args[args.index("--runtime") + 1] == str(binary)


def test_global_args_round_trip(no_system_conf: None, tmp_path: Path) -> None:
    cfg = load_config(
        root=str(tmp_path / "r"), runroot=str(tmp_path / "rr"), tmpdir=str(tmp_path / "t"),
        storage_driver="vfs", log_level="debug", hooks_dirs=["/h1", "/h2"],
    )  # fmt: skip
    args = cfg.global_args()
    assert args[:12] == [
        "--root", str(tmp_path / "r"), "--runroot", str(tmp_path / "rr"), "--tmpdir", str(tmp_path / "t"),
        "--storage-driver", "vfs", "--runtime", "runc", "--log-level", "debug",
    ]  # fmt: skip
    assert args[12:] == ["--hooks-dir", "/h1", "--hooks-dir", "/h2"]
    # Parsing the args back gives the same config.
    pairs = dict(zip(args[:12:2], args[1:12:2]))
    again = load_config(
        root=pairs["--root"], runroot=pairs["--runroot"], tmpdir=pairs["--tmpdir"],
        storage_driver=pairs["--storage-driver"], runtime=pairs["--runtime"], log_level=pairs["--log-level"],
        hooks_dirs=["/h1", "/h2"],
    )  # fmt: skip
    assert again == cfg


def test_binaries_found_on_this_host(no_system_conf: None) -> None:
    cfg = load_config()
    if not cfg.runtime_path:
        pytest.skip("runc is not installed")
    assert cfg.require_runtime_path().endswith("runc")
    if cfg.conmon_path:
        assert cfg.require_conmon_path().endswith("conmon")
    if cfg.init_path:
        assert cfg.require_init_path().endswith("catatonit")


def test_require_missing_binary_raises(no_system_conf: None) -> None:
    from pypod.errors import OCIRuntimeError

    cfg = EngineConfig(runtime="nosuchruntime", runtime_path="")
    with pytest.raises(OCIRuntimeError, match="nosuchruntime"):
        cfg.require_runtime_path()
