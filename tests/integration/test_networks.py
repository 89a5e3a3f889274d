"""Bridge networks through netavark/aardvark-dns, with namespaces made by the tests (no containers)."""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from nethelpers import free_port as _free_port
from nethelpers import free_subnet
from pypod.errors import AlreadyExists, InvalidArgument, NetworkError, NoSuchNetwork
from pypod.libpod.network import lifecycle, netavark, netns
from pypod.libpod.network.ipam import IPAM
from pypod.libpod.network.store import NetworkStore

DEADLINE = 30.0
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
REPO = Path(__file__).resolve().parents[2]


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root (network namespaces, bridges, iptables)"
    if not netavark.netavark_binary():
        return "netavark is not installed"
    if not netavark.aardvark_binary():
        return "aardvark-dns is not installed"
    for tool in ("nsenter", "ip", "iptables-save"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if not os.access(BUSYBOX, os.X_OK):
        return "busybox is not installed"
    return ""


pytestmark = pytest.mark.skipif(bool(_missing()), reason=_missing() or "ok")


def wait_for(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns a true value; fail naming ``what`` after the deadline."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")


def _free_test_subnet() -> str:
    return free_subnet(150, 250)


@pytest.fixture
def netcfg(tmp_path: Path) -> Iterator[types.SimpleNamespace]:
    cfg = types.SimpleNamespace(
        root=str(tmp_path / "root"),
        runroot=str(tmp_path / "run"),
        tmpdir=str(tmp_path / "run" / "tmp"),
        network_config_dir="",
    )
    yield cfg
    # leftovers of a failed test: undo every recorded container, then every namespace
    setup_dir = Path(cfg.root) / "netsetup"
    for rec in setup_dir.glob("*.json") if setup_dir.exists() else []:
        try:
            lifecycle.leave_networks(cfg, rec.stem)
        except Exception:  # noqa: BLE001 - best effort in a finalizer
            pass
    ns_dir = Path(cfg.runroot) / "netns"
    for path in ns_dir.glob("netns-*") if ns_dir.exists() else []:
        netns.remove_netns(str(path))


@pytest.fixture
def network(netcfg: types.SimpleNamespace) -> dict[str, Any]:
    suffix = os.urandom(3).hex()
    return NetworkStore(netcfg).create(
        name=f"t{suffix}", subnet=_free_test_subnet(), interface_name=f"pyt{suffix}"
    )


class Sandbox:
    """A fake container: a netns joined to networks via pypod's lifecycle helpers."""

    def __init__(self, cfg: types.SimpleNamespace, name: str) -> None:
        self.cfg = cfg
        self.name = name
        self.id = os.urandom(32).hex()
        self.ns = netns.create_netns(cfg.runroot)
        self.status: dict[str, Any] = {}
        self.procs: list[subprocess.Popen[bytes]] = []

    def join(self, net: dict[str, Any], ports: list[dict[str, Any]] | None = None, **want: Any) -> dict[str, Any]:
        self.status.update(
            lifecycle.join_networks(self.cfg, self.ns, self.id, self.name, {net["name"]: want}, ports)
        )
        return self.status[net["name"]]

    def run(self, *argv: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net={self.ns}", *argv], capture_output=True, text=True, timeout=timeout)

    def spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["nsenter", f"--net={self.ns}", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=DEADLINE)
        try:
            lifecycle.leave_networks(self.cfg, self.id)
        finally:
            netns.remove_netns(self.ns)


@pytest.fixture
def sandboxes(netcfg: types.SimpleNamespace) -> Iterator[Callable[[str], Sandbox]]:
    made: list[Sandbox] = []

    def make(name: str) -> Sandbox:
        box = Sandbox(netcfg, name)
        made.append(box)
        return box

    yield make
    for box in made:
        try:
            box.close()
        except Exception:  # noqa: BLE001 - keep cleaning the others
            pass


def test_two_namespaces_reach_each_other_and_resolve_names(network, sandboxes) -> None:
    a, b = sandboxes("alpha"), sandboxes("beta")
    sa = a.join(network, aliases=["web"])
    sb = b.join(network)
    gateway = network["subnets"][0]["gateway"]
    assert sa["ip_address"] != sb["ip_address"]
    assert ipaddress.ip_address(sa["ip_address"]) in ipaddress.ip_network(network["subnets"][0]["subnet"])
    assert sa["gateway"] == gateway and sa["interface"] == "eth0" and sa["mac_address"]
    assert sa["dns_server_ips"] == [gateway]

    ping = b.run(BUSYBOX, "ping", "-c", "1", "-W", "10", sa["ip_address"])
    assert ping.returncode == 0, ping.stdout + ping.stderr

    for name in ("alpha", "web", a.id[:12]):
        lookup = wait_for(lambda n=name: (r := b.run(BUSYBOX, "nslookup", n, gateway)).returncode == 0 and r,
                          f"aardvark answering {name}")
        assert sa["ip_address"] in lookup.stdout, lookup.stdout


def test_tcp_port_mapping_reaches_httpd(network, sandboxes, tmp_path) -> None:
    box = sandboxes("web")
    host_port = _free_port()
    status = box.join(network, ports=[{"host_ip": "127.0.0.1", "host_port": host_port, "container_port": 80,
                                       "protocol": "tcp"}])  # fmt: skip
    assert status["port_mappings"][0]["host_port"] == host_port
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from the netns\n")
    box.spawn(BUSYBOX, "httpd", "-f", "-p", "80", "-h", str(www))

    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/index.html", timeout=5) as resp:
            return resp.read().decode()

    assert wait_for(fetch, "httpd through the port mapping") == "hello from the netns\n"


def test_udp_port_mapping(network, sandboxes) -> None:
    box = sandboxes("udp")
    host_port = _free_port(socket.SOCK_DGRAM)
    box.join(network, ports=[{"host_ip": "127.0.0.1", "host_port": host_port, "container_port": 5353,
                              "protocol": "udp"}])  # fmt: skip
    server = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('0.0.0.0', 5353))\n"
        "while True:\n"
        "    data, peer = s.recvfrom(1024)\n"
        "    s.sendto(b'pong:' + data, peer)\n"
    )
    box.spawn(sys.executable, "-c", server)

    def exchange() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(b"ping", ("127.0.0.1", host_port))
            return s.recvfrom(1024)[0]

    assert wait_for(exchange, "a UDP answer through the port mapping") == b"pong:ping"


def test_taken_host_port_is_a_clear_error(network, sandboxes, netcfg) -> None:
    box = sandboxes("busy")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(NetworkError, match=f"127.0.0.1:{port}/tcp.*address already in use"):
            box.join(network, ports=[{"host_ip": "127.0.0.1", "host_port": port, "container_port": 80}])
    assert IPAM(netcfg.tmpdir).leases(network["name"]) == {}


def _allocate_one(tmpdir: str, network: dict[str, Any], ctr_id: str, out: Any) -> None:
    out.put(IPAM(tmpdir).allocate(network, ctr_id))


def test_parallel_allocations_are_distinct(network, netcfg) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_allocate_one, args=(netcfg.tmpdir, network, f"{i:064x}", queue)) for i in range(10)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(DEADLINE)
        assert p.exitcode == 0
    ips = [queue.get(timeout=DEADLINE) for _ in procs]
    assert len(set(ips)) == 10
    assert network["subnets"][0]["gateway"] not in ips
    ipam = IPAM(netcfg.tmpdir)
    assert sorted(ipam.leases(network["name"]).values()) == sorted(ips)
    freed = ipam.reconcile([f"{0:064x}"])
    assert len(freed) == 9 and list(ipam.leases(network["name"])) == [f"{0:064x}"]


def test_static_ip_and_exhaustion(netcfg) -> None:
    net = NetworkStore(netcfg).create(name="tiny", subnet="10.77.77.0/30", interface_name="pytiny")
    ipam = IPAM(netcfg.tmpdir)
    assert ipam.allocate(net, "a" * 64, "10.77.77.2") == "10.77.77.2"
    assert ipam.allocate(net, "a" * 64) == "10.77.77.2"  # the existing lease
    with pytest.raises(NetworkError, match="already allocated"):
        ipam.allocate(net, "b" * 64, "10.77.77.2")
    with pytest.raises(NetworkError, match="no free addresses"):
        ipam.allocate(net, "b" * 64)
    with pytest.raises(InvalidArgument):
        ipam.allocate(net, "b" * 64, "10.77.77.1")  # the gateway
    ipam.release("tiny", "a" * 64)
    assert ipam.allocate(net, "b" * 64) == "10.77.77.2"


def _bridge_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _aardvark_running(config_dir: str) -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cmdline and cmdline[0].endswith(b"aardvark-dns") and config_dir.encode() in b" ".join(cmdline):
            return True
    return False


def _firewall_mentions(text: str) -> bool:
    return text in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout


def test_teardown_leaves_nothing(network, sandboxes, netcfg) -> None:
    box = sandboxes("gone")
    port = _free_port()
    status = box.join(network, ports=[{"host_ip": "127.0.0.1", "host_port": port, "container_port": 80}])
    bridge = network["network_interface"]
    subnet = network["subnets"][0]["subnet"]
    assert _bridge_exists(bridge)
    assert _firewall_mentions(subnet) and _firewall_mentions(box.id)
    config_dir = os.path.join(netcfg.tmpdir, "netavark")
    assert _aardvark_running(config_dir)
    assert netns.is_netns(box.ns)

    box.close()
    box.close()  # idempotent
    assert not os.path.exists(box.ns)
    assert not _bridge_exists(bridge)
    veths = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True).stdout
    assert veths.strip() == ""
    assert not _firewall_mentions(subnet) and not _firewall_mentions(box.id)
    if shutil.which("nft"):
        ruleset = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
        assert subnet not in ruleset
    wait_for(lambda: not _aardvark_running(config_dir), "aardvark-dns to exit")
    assert IPAM(netcfg.tmpdir).leases(network["name"]) == {}
    assert status["ip_address"]


def test_teardown_after_lost_netns(network, netcfg) -> None:
    """A crash after setup, then the namespace vanished: teardown still cleans the host side."""
    box = Sandbox(netcfg, "lost")
    try:
        box.join(network)
        netns.remove_netns(box.ns)
        lifecycle.leave_networks(netcfg, box.id)
    finally:
        box.close()
    assert not _firewall_mentions(network["subnets"][0]["subnet"])
    assert IPAM(netcfg.tmpdir).leases(network["name"]) == {}


def test_store_rules(netcfg) -> None:
    store = NetworkStore(netcfg)
    assert [n["name"] for n in store.list()] == ["podman"]
    default = store.get("podman")
    assert default["network_interface"] == "pypod0" and default["subnets"][0]["subnet"] == "10.87.0.0/16"
    net = store.create(name="n1", subnet="10.66.1.0/24", gateway="10.66.1.254", ip_range="10.66.1.128/25",
                       internal=True, labels={"a": "b"}, options={"mtu": "1400"})  # fmt: skip
    assert len(net["id"]) == 64 and net["subnets"][0]["lease_range"]["start_ip"] == "10.66.1.129"
    assert store.get(net["id"][:10])["name"] == "n1"
    with pytest.raises(AlreadyExists, match="network name n1 already used: network already exists"):
        store.create(name="n1")
    with pytest.raises(InvalidArgument, match="already used"):
        store.create(name="n2", subnet="10.66.1.0/25")
    with pytest.raises(InvalidArgument, match="not in subnet"):
        store.create(name="n3", subnet="10.66.3.0/24", gateway="10.66.4.1")
    with pytest.raises(InvalidArgument, match="unsupported bridge network option foo"):
        store.create(name="n4", options={"foo": "1"})
    auto = store.create()
    assert auto["name"] == "pypod1" and auto["subnets"][0]["subnet"].startswith("10.89.")
    with pytest.raises(InvalidArgument, match="cannot be removed"):
        store.remove("podman")
    store.remove("n1")
    with pytest.raises(NoSuchNetwork, match="unable to find network with name or ID n1: network not found"):
        store.get("n1")
    on_disk = json.loads((Path(netcfg.root) / "networks" / "pypod1.json").read_text())
    assert on_disk["driver"] == "bridge" and on_disk["dns_enabled"] is True


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pypod", "--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE, env=env)


def test_cli_network_commands(tmp_path) -> None:
    r = _cli(tmp_path, "network", "create", "--subnet", "10.66.9.0/24", "--label", "k=v", "clinet")
    assert (r.returncode, r.stdout) == (0, "clinet\n"), r.stderr
    r = _cli(tmp_path, "network", "create", "clinet")
    assert r.returncode == 125 and r.stderr == "Error: network name clinet already used: network already exists\n"
    r = _cli(tmp_path, "network", "ls")
    assert r.stdout.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER"]
    assert {ln.split()[1] for ln in r.stdout.splitlines()[1:]} == {"podman", "clinet"}
    assert _cli(tmp_path, "network", "ls", "-q", "--filter", "label=k=v").stdout == "clinet\n"
    assert _cli(tmp_path, "network", "ls", "--format", "{{.Name}}:{{.Driver}}", "-f", "name=cli").stdout == "clinet:bridge\n"
    data = json.loads(_cli(tmp_path, "network", "inspect", "clinet").stdout)
    assert data[0]["subnets"] == [{"subnet": "10.66.9.0/24", "gateway": "10.66.9.1"}]
    assert data[0]["labels"] == {"k": "v"} and data[0]["ipam_options"] == {"driver": "host-local"}
    r = _cli(tmp_path, "network", "inspect", "nope")
    assert r.returncode == 125 and "unable to find network with name or ID nope: network not found" in r.stderr
    assert _cli(tmp_path, "network", "exists", "clinet").returncode == 0
    assert _cli(tmp_path, "network", "exists", "nope").returncode == 1
    r = _cli(tmp_path, "network", "rm", "podman")
    assert r.returncode == 125 and r.stderr == "Error: default network podman cannot be removed\n"
    assert _cli(tmp_path, "network", "prune", "-f").stdout == "clinet\n"
    assert _cli(tmp_path, "network", "ls", "-q").stdout == "podman\n"


def test_container_entry_points_with_a_stand_in_container(network, netcfg) -> None:
    """setup/teardown_container_network as the life cycle calls them (rt and ctr faked)."""
    cfg = types.SimpleNamespace(
        id=os.urandom(32).hex(), name="fake", network_mode="bridge", networks=[network["name"]],
        network_aliases={network["name"]: ["al"]}, static_ip="", static_mac="", ports=[],
    )  # fmt: skip
    ctr = types.SimpleNamespace(config=cfg, id=cfg.id, state=types.SimpleNamespace(net_ns=""))
    rt = types.SimpleNamespace(config=netcfg, list_containers=lambda: [ctr])
    path, status = lifecycle.setup_container_network(rt, ctr)
    try:
        assert netns.is_netns(path) and set(status) == {network["name"]}
        info = lifecycle.etc_files_info(status)
        assert info["ips"] == [status[network["name"]]["ip_address"]]
        assert info["dns_servers"] == [network["subnets"][0]["gateway"]] and info["dns_search"] == ["dns.podman"]
        ctr.state.net_ns = path
    finally:
        lifecycle.teardown_container_network(rt, ctr)
    lifecycle.teardown_container_network(rt, ctr)  # idempotent
    assert not os.path.exists(path)
    assert IPAM(netcfg.tmpdir).leases(network["name"]) == {}
    none_cfg = types.SimpleNamespace(**{**vars(cfg), "network_mode": "none"})
    assert lifecycle.setup_container_network(rt, types.SimpleNamespace(config=none_cfg)) == ("", {})
