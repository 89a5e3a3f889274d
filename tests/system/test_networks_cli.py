"""Bridge networks through the CLI: names and aliases, published TCP/UDP ports, pods, connect/disconnect,
parallel starts, and a host left clean afterwards.

Every test makes its own network (unique name, bridge name and /24 subnet): bridges, firewall
rules and the netavark lock are host-wide, and other test files may run at the same time.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest

from nethelpers import free_port as _free_port
from nethelpers import NetworksOfTest, networks_made_by_test
from nethelpers import http_get as _http_get
from nethelpers import httpd_command as _httpd
from nethelpers import iptables_rules as _iptables
from nethelpers import netns_files as _netns_files
from pypodcli import Pypod, processes_mentioning, wait_for

BUSYBOX = "localhost/busybox:latest"
DEADLINE = 30.0
# a busybox shell loop: retry a fetch until it answers (the server may not listen yet)
FETCH = "for i in $(seq 150); do wget -qO- {url} && exit 0; sleep 0.2; done; exit 1"


Net = NetworksOfTest


@pytest.fixture
def net(busybox_pypod: Pypod) -> Iterator[Net]:
    with networks_made_by_test(busybox_pypod, "t", (200, 250)) as nets:
        yield nets


def _host_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def _bridge_macs(bridge: str) -> list[str]:
    """MAC addresses of the host-side veths attached to ``bridge``."""
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True).stdout
    return [line.split("link/ether ")[1].split()[0] for line in out.splitlines() if "link/ether " in line]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _aardvark_of(pp: Pypod) -> list[int]:
    return processes_mentioning(pp.tmpdir, names=("aardvark-dns",))


# --- tests ---------------------------------------------------------------------------------------
def test_names_aliases_and_published_tcp_port(net: Net) -> None:
    pp = net.pp
    name, _bridge, _subnet = net.create()
    port = _free_port()
    pp.ok("run", "-d", "--name", "web", "--network", name, "--network-alias", "webalias",
          "-p", f"127.0.0.1:{port}:80", BUSYBOX, *_httpd("hello-web"))  # fmt: skip
    out = pp.ok("run", "--rm", "--network", name, BUSYBOX, "sh", "-c",
                f'({FETCH.format(url="http://web/")}) && ({FETCH.format(url="http://webalias/")})',
                timeout=120).out  # fmt: skip
    assert out.split() == ["hello-web", "hello-web"]
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "hello-web"
    assert pp.ok("port", "web", "80").out.strip() == f"127.0.0.1:{port}"
    assert f"127.0.0.1:{port}->80/tcp" in pp.ok("ps").out
    settings = json.loads(pp.ok("inspect", "--format", "{{json .NetworkSettings}}", "web").out)
    assert settings["Ports"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert "webalias" in settings["Networks"][name]["Aliases"]
    assert settings["IPAddress"] == settings["Networks"][name]["IPAddress"] != ""

    # -P: the exposed port gets a host port chosen at start, shown by `port` and reachable
    pp.ok("run", "-d", "--name", "web2", "--network", name, "--expose", "80", "-P", BUSYBOX, *_httpd("hello-two"))
    mapping = pp.ok("port", "web2", "80").out.strip()
    host_port = int(mapping.rsplit(":", 1)[1])
    assert host_port > 0
    assert f":{host_port}->80/tcp" in pp.ok("ps").out
    assert _http_get(f"http://127.0.0.1:{host_port}/").strip() == "hello-two"


def test_published_udp_port(net: Net) -> None:
    pp = net.pp
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK) or not os.path.isdir("/usr/lib64"):
        pytest.skip("busybox has no UDP server; the test needs the host's /usr/bin/python3 and /usr/lib64")
    name, _bridge, _subnet = net.create()
    port = _free_port(socket.SOCK_DGRAM)
    server = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('0.0.0.0', 5353))\n"
        "while True:\n"
        "    data, peer = s.recvfrom(100)\n"
        "    s.sendto(b'pong:' + data, peer)\n"
    )
    pp.ok("run", "-d", "--name", "udp", "--network", name, "-p", f"127.0.0.1:{port}:5353/udp",
          "-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro",
          BUSYBOX, python, "-I", "-c", server)  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        end = time.monotonic() + DEADLINE
        reply = b""
        while not reply:
            assert time.monotonic() < end, "no UDP reply through the published port"
            sock.sendto(b"ping", ("127.0.0.1", port))
            try:
                reply = sock.recv(100)
            except (socket.timeout, ConnectionRefusedError):
                continue
    assert reply == b"pong:ping"
    assert pp.ok("port", "udp", "5353/udp").out.strip() == f"127.0.0.1:{port}"


def test_port_already_taken_is_a_clear_error(net: Net) -> None:
    pp = net.pp
    name, _bridge, _subnet = net.create()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = pp("run", "-d", "--name", "busy", "--network", name, "-p", f"127.0.0.1:{port}:80", BUSYBOX,
                    "sleep", "1000")  # fmt: skip
    assert result.rc == 126, result.describe()  # podman 4: 126 for a run whose start failed
    assert f"127.0.0.1:{port}" in result.err and "address already in use" in result.err, result.err
    assert result.err.startswith("Error: ")
    assert _netns_files(pp) == []
    assert pp.ok("inspect", "--format", "{{.State.Status}}", "busy").out.strip() in ("created", "exited")


def test_pod_on_default_network_talks_over_loopback_and_leaves_nothing(net: Net) -> None:
    pp = net.pp
    port = _free_port()
    pp.ok("pod", "create", "--name", "wp", "-p", f"127.0.0.1:{port}:80")
    pp.ok("run", "-d", "--pod", "wp", "--name", "wp-web", BUSYBOX, *_httpd("hello-pod"))
    out = pp.ok("run", "--rm", "--pod", "wp", BUSYBOX, "sh", "-c", FETCH.format(url="http://127.0.0.1/"),
                timeout=120).out  # fmt: skip
    assert out.strip() == "hello-pod"
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "hello-pod"
    # the host side of the pod's veth, found by the peer index the container sees
    iflink = pp.ok("exec", "wp-web", "cat", "/sys/class/net/eth0/iflink").out.strip()
    host_if = [ln for ln in _host_links().splitlines() if ln.split(":")[0] == iflink]
    assert host_if, f"no host interface {iflink}"
    host_mac = host_if[0].split("link/ether ")[1].split()[0]
    assert len(_netns_files(pp)) == 1
    assert f"--dport {port} " in _iptables()

    pp.ok("pod", "rm", "-f", "-t", "0", "wp")
    assert _netns_files(pp) == []
    assert host_mac not in _host_links()
    assert f"--dport {port} " not in _iptables()
    assert os.listdir(os.path.join(pp.root, "netsetup")) == []


def test_connect_disconnect_and_network_options(net: Net) -> None:
    pp = net.pp
    first, _b1, subnet1 = net.create()
    second, _b2, subnet2 = net.create()
    hosts1 = list(ipaddress.ip_network(subnet1).hosts())
    ip, mac = str(hosts1[41]), "92:d0:c6:0a:29:33"
    pp.ok("run", "-d", "--name", "multi", "--network", first, "--ip", ip, "--mac-address", mac,
          "--hostname", "multihost", "--add-host", "extra.test:192.0.2.7", "--dns", "192.0.2.53",
          "--dns-search", "example.test", BUSYBOX, "sleep", "1000")  # fmt: skip
    addrs = pp.ok("exec", "multi", "ip", "-o", "-4", "addr").out
    assert f"inet {ip}/24" in addrs
    assert pp.ok("exec", "multi", "cat", "/sys/class/net/eth0/address").out.strip() == mac
    hosts = pp.ok("exec", "multi", "cat", "/etc/hosts").out
    assert "192.0.2.7\textra.test" in hosts
    assert any(ln.startswith(ip) and "multihost" in ln and "multi" in ln.split() for ln in hosts.splitlines())
    resolv = pp.ok("exec", "multi", "cat", "/etc/resolv.conf").out
    assert "nameserver 192.0.2.53" in resolv and "search example.test" in resolv
    assert pp.ok("exec", "multi", "hostname").out.strip() == "multihost"

    pp.ok("network", "connect", second, "multi")
    addrs = pp.ok("exec", "multi", "ip", "-o", "-4", "addr").out
    second_net = ipaddress.ip_network(subnet2)
    eth1 = [ln for ln in addrs.splitlines() if " eth1 " in ln]
    assert eth1 and ipaddress.ip_interface(eth1[0].split("inet ")[1].split()[0]).ip in second_net, addrs
    networks = json.loads(pp.ok("inspect", "--format", "{{json .NetworkSettings.Networks}}", "multi").out)
    assert set(networks) == {first, second}

    pp.ok("network", "disconnect", second, "multi")
    addrs = pp.ok("exec", "multi", "ip", "-o", "-4", "addr").out
    assert " eth1 " not in addrs and f"inet {ip}/24" in addrs
    networks = json.loads(pp.ok("inspect", "--format", "{{json .NetworkSettings.Networks}}", "multi").out)
    assert set(networks) == {first}


def test_parallel_containers_get_distinct_ips_and_nothing_is_left(net: Net) -> None:
    pp = net.pp
    name, bridge, subnet = net.create()
    names = [f"par{i}" for i in range(10)]

    def start(ctr: str) -> None:
        pp.ok("run", "-d", "--name", ctr, "--network", name, BUSYBOX, "sleep", "1000", timeout=120)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(start, names))
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    ips = [pp.ok("inspect", "--format", template, ctr).out.strip() for ctr in names]
    assert len(set(ips)) == 10, ips
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(subnet) for ip in ips)
    macs = _bridge_macs(bridge)
    assert len(macs) == 10
    assert _aardvark_of(pp), "aardvark-dns serves the network's names"

    pp.ok("rm", "-a", "-f", "-t", "0", timeout=120)
    pp.ok("network", "rm", name)
    net.networks.remove(name)
    assert _netns_files(pp) == []
    links = _host_links()
    assert not [m for m in macs if m in links]
    assert f": {bridge}:" not in links and f": {bridge}@" not in links
    assert subnet not in _iptables()
    wait_for(lambda: not _aardvark_of(pp), DEADLINE, message="aardvark-dns of this config dir gone")


def test_refresh_after_reboot_undoes_the_old_boots_networking(net: Net) -> None:
    """A simulated reboot keeps bridges, firewall rules and aardvark: the refresh removes them."""
    from conftest import _umount_lazy

    from pypodcli import mounts_under

    pp = net.pp
    name, bridge, subnet = net.create()
    port = _free_port()
    pp.ok("run", "-d", "--name", "old", "--network", name, "-p", f"127.0.0.1:{port}:80", BUSYBOX,
          *_httpd("hello-again"))  # fmt: skip
    pid = int(pp.ok("inspect", "--format", "{{.State.Pid}}", "old").out.strip())
    assert f"--dport {port} " in _iptables() and _aardvark_of(pp)
    # "reboot": processes killed, mounts gone, run root and tmp dir wiped; host networking stays
    for victim in processes_mentioning(str(pp.base), names=("conmon",)) + [pid]:
        try:
            os.kill(victim, 9)
        except ProcessLookupError:
            pass
    wait_for(lambda: not _alive(pid), DEADLINE, message="the container process to die")
    for point in mounts_under(pp.root, pp.runroot):
        _umount_lazy(point)
    shutil.rmtree(pp.runroot)
    shutil.rmtree(pp.tmpdir)

    assert "exited" in pp.ok("ps", "-a", "--format", "{{.State}}").out  # the first command refreshes
    rules = _iptables()
    assert f"--dport {port} " not in rules and subnet not in rules
    assert f": {bridge}:" not in _host_links()
    # the refresh SIGKILLs the old aardvark-dns; the kernel reaps it asynchronously
    wait_for(lambda: not _aardvark_of(pp), DEADLINE, message="the old boot's aardvark-dns to die")
    # and the container starts again with working networking
    pp.ok("start", "old")
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "hello-again"
