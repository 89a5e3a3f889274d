"""Parsers of create/run flags: podman's values and messages; only InvalidArgument escapes."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pypod.cli import createflags as cf
from pypod.errors import InvalidArgument

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
PORTISH = st.text(alphabet="0123456789:-/.[]abtcpud", max_size=30)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    cf.add_create_flags(parser)
    return parser.parse_args(list(argv))


class FakeRuntime:
    def get_container(self, name: str) -> object:
        from pypod.errors import NoSuchContainer

        raise NoSuchContainer(f'no container with name or ID "{name}" found: no such container')


def test_restart_policies() -> None:
    assert cf.parse_restart("") == ("", 0)
    assert cf.parse_restart("always") == ("always", 0)
    assert cf.parse_restart("on-failure:5") == ("on-failure", 5)
    with pytest.raises(InvalidArgument, match='"foo" is not a valid restart policy'):
        cf.parse_restart("foo")
    with pytest.raises(InvalidArgument, match='parsing "x": invalid syntax'):
        cf.parse_restart("on-failure:x")


def test_ulimit() -> None:
    assert cf.parse_ulimit("nofile=1024") == "nofile=1024:1024"
    assert cf.parse_ulimit("nofile=1024:2048") == "nofile=1024:2048"
    assert cf.parse_ulimit("core=-1") == "core=-1:-1"
    with pytest.raises(InvalidArgument, match='ulimit option "nofile=x" requires name=SOFT:HARD'):
        cf.parse_ulimit("nofile=x")
    with pytest.raises(InvalidArgument, match="soft limit"):
        cf.parse_ulimit("nofile=10:5")


def test_publish() -> None:
    assert cf.parse_publish("80") == [
        {"host_ip": "", "host_port": 0, "container_port": 80, "protocol": "tcp", "range": 1}
    ]
    (m,) = cf.parse_publish("127.0.0.1:8080:80/udp")
    assert (m["host_ip"], m["host_port"], m["container_port"], m["protocol"]) == ("127.0.0.1", 8080, 80, "udp")
    (m,) = cf.parse_publish("9000-9002:90-92")
    assert (m["host_port"], m["container_port"], m["range"]) == (9000, 90, 3)
    with pytest.raises(InvalidArgument, match="port numbers must be between 1 and 65535"):
        cf.parse_publish("99999:80")
    with pytest.raises(InvalidArgument, match='parsing container port: invalid port number: strconv.Atoi: parsing "foo"'):
        cf.parse_publish("foo")


def test_volume(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bind = cf.parse_volume(f"{tmp_path}:/data:ro")
    assert bind == {"type": "bind", "source": str(tmp_path), "destination": "/data", "options": ["ro"]}
    named = cf.parse_volume("myvol:/data")
    assert named["type"] == "volume" and named["name"] == "myvol" and not named["anonymous"]
    anon = cf.parse_volume("/data")
    assert anon["type"] == "volume" and anon["anonymous"]
    with pytest.raises(InvalidArgument, match="^statfs /nonexistent-pypod: no such file or directory$"):
        cf.parse_volume("/nonexistent-pypod:/x")
    with pytest.raises(InvalidArgument):
        cf.parse_volume("a:relative")


def test_signal() -> None:
    assert cf.parse_signal("TERM") == 15
    assert cf.parse_signal("SIGKILL") == 9
    assert cf.parse_signal("usr1") == 10
    assert cf.parse_signal("2") == 2
    with pytest.raises(InvalidArgument, match="^invalid signal: FOO$"):
        cf.parse_signal("FOO")


def test_network_modes() -> None:
    assert cf.parse_network([]) == (cf.DEFAULT_NETWORK_MODE, [])
    assert cf.parse_network(["none"]) == ("none", [])
    assert cf.parse_network(["a,b"]) == ("bridge", ["a", "b"])
    with pytest.raises(InvalidArgument):
        cf.parse_network(["host,a"])


def test_build_config_basics(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nA=1\nB=2\n")
    args = parse(
        "--name", "c1", "-e", "B=3", "--env-file", str(env_file), "-l", "k=v", "--restart", "on-failure:2",
        "--ulimit", "nofile=100:200", "-v", f"{tmp_path}:/mnt:ro", "-p", "8080:80", "--stop-signal", "KILL",
        "--health-cmd", "true", "--network", "none" if False else "bridge", "-h", "box", "-w", "/tmp",
        "busybox", "sh", "-c", "exit 3",
    )  # fmt: skip
    cfg = cf.build_config(args, FakeRuntime(), ["pypod", "run"])
    assert cfg.name == "c1" and cfg.raw_image_name == "busybox"
    assert cfg.command == ["sh", "-c", "exit 3"]
    assert cfg.env == {"A": "1", "B": "3"}
    assert cfg.labels == {"k": "v"}
    assert (cfg.restart_policy, cfg.restart_retries) == ("on-failure", 2)
    assert cfg.ulimits == ["nofile=100:200"]
    assert cfg.binds[0]["destination"] == "/mnt"
    assert cfg.ports[0]["host_port"] == 8080
    assert cfg.stop_signal == 9
    assert cfg.healthcheck is not None and cfg.healthcheck.test == ["CMD-SHELL", "true"]
    assert cfg.hostname == "box" and cfg.workdir == "/tmp"


def test_command_flags_after_image_belong_to_the_command() -> None:
    args = parse("-d", "busybox", "ls", "-l", "-h")
    assert args.detach and args.image == "busybox" and args.command == ["ls", "-l", "-h"]


def test_rm_conflicts_with_restart() -> None:
    with pytest.raises(InvalidArgument, match="--rm option conflicts with --restart"):
        cf.build_config(parse("--rm", "--restart", "always", "busybox"), FakeRuntime())


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_restart_only_invalid_argument(value: str) -> None:
    try:
        cf.parse_restart(value)
    except InvalidArgument:
        pass


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, st.builds(lambda n, s: f"{n}={s}", st.sampled_from(sorted(cf.ULIMIT_NAMES)), PORTISH)))
def test_ulimit_only_invalid_argument(value: str) -> None:
    try:
        result = cf.parse_ulimit(value)
    except InvalidArgument:
        return
    name, _eq, limits = result.partition("=")
    assert name in cf.ULIMIT_NAMES and limits.count(":") == 1


@settings(max_examples=500, deadline=None)
@given(st.one_of(TEXT, PORTISH))
def test_publish_only_invalid_argument(value: str) -> None:
    try:
        maps = cf.parse_publish(value)
    except InvalidArgument:
        return
    for m in maps:
        assert 1 <= m["container_port"] <= 65535
        assert 0 <= m["host_port"] <= 65535


@settings(max_examples=500, deadline=None)
@given(st.one_of(TEXT, st.text(alphabet="/:abrowzZ,.", max_size=30)))
def test_volume_only_invalid_argument(value: str) -> None:
    try:
        mount = cf.parse_volume(value, check_source=False)
    except InvalidArgument:
        return
    assert mount["destination"].startswith("/")
