"""Helpers shared by the network tests: host checks, free subnets and ports, HTTP probes, host state.

Bridges, firewall rules and the netavark lock are host-wide and test files may run at the same
time, so each file picks its subnets from its own range of second octets (``free_subnet(low, high)``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.request
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from pypodcli import Pypod

DEADLINE = 30.0


def missing_network_parts() -> str:
    """Why bridge networks cannot be tested here ("" when they can)."""
    from pypod.libpod.network.netavark import aardvark_binary, netavark_binary

    if os.geteuid() != 0:
        return "needs root (bridges, iptables, network namespaces)"
    if not netavark_binary():
        return "netavark is not installed"
    if not aardvark_binary():
        return "aardvark-dns is not installed"
    for tool in ("iptables-save", "iptables", "ip"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return ""


def used_subnets() -> list[ipaddress.IPv4Network]:
    """IPv4 destinations in any of the host's routing tables (default routes left out)."""
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    nets = []
    for line in out.splitlines():
        words = line.split()
        word = words[1] if words and words[0] in ("local", "broadcast") and len(words) > 1 else (words or [""])[0]
        try:
            nets.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    return [n for n in nets if n.prefixlen]


def free_subnet(low: int, high: int) -> str:
    """An unused ``10.<low..high>.x.0/24``."""
    taken = used_subnets()
    for _ in range(500):
        net = ipaddress.ip_network(f"10.{random.randint(low, high)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return str(net)
    raise AssertionError("no free 10.x /24 subnet on this host")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port the kernel just gave out on 127.0.0.1 (TCP, or UDP with ``socket.SOCK_DGRAM``)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, deadline: float = DEADLINE) -> str:
    """The body at ``url``, retried until it answers or ``deadline`` seconds pass."""
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read().decode()
        except OSError as exc:
            if time.monotonic() > end:
                raise AssertionError(f"{url} did not answer within {deadline}s: {exc}") from exc
            time.sleep(0.1)


def httpd_command(text: str) -> list[str]:
    """A busybox command serving ``text`` on port 80."""
    return ["sh", "-c", f"mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"]


def iptables_rules() -> str:
    """The host's iptables rules (``iptables-save``)."""
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def netns_files(pp: "Pypod") -> list[str]:
    """Namespace files left under the run root's ``netns`` directory, sorted."""
    directory = os.path.join(pp.runroot, "netns")
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def bridge_links(bridge: str) -> list[str]:
    """``ip -o link`` lines of the interfaces attached to ``bridge``."""
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if ln.strip()]


class NetworksOfTest:
    """The CLI plus the networks and named namespaces a test made (removed by :func:`networks_made_by_test`)."""


    def __init__(self, pp: "Pypod", prefix: str, octets: tuple[int, int]) -> None:
        self.pp = pp
        self.prefix = prefix
        self.octets = octets
        self.networks: list[str] = []
        self.named_netns: list[str] = []

    def create(self, *options: str) -> tuple[str, str, str]:
        """A fresh network; returns (name, bridge, subnet)."""
        suffix = os.urandom(3).hex()
        name, bridge = f"n{self.prefix}{suffix}", f"py{self.prefix}{suffix}"
        subnet = free_subnet(*self.octets)
        self.networks.append(name)
        self.pp.ok("network", "create", "--subnet", subnet, "--interface-name", bridge, *options, name)
        return name, bridge, subnet


@contextlib.contextmanager
def networks_made_by_test(pp: "Pypod", prefix: str, octets: tuple[int, int]) -> Iterator[NetworksOfTest]:
    """Skip without bridge networking; afterwards remove pods, containers, networks and namespaces."""
    import pytest

    reason = missing_network_parts()
    if reason:
        pytest.skip(reason)
    nets = NetworksOfTest(pp, prefix, octets)
    try:
        yield nets
    finally:
        pp("pod", "rm", "-a", "-f", "-t", "0", timeout=120)
        pp("rm", "-a", "-f", "-t", "0", timeout=120)
        for name in nets.networks:
            pp("network", "rm", "-f", name, timeout=120)
        for name in nets.named_netns:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True)
