"""More network and pod behaviour through the CLI, checked against what podman 4 does: network
options and listing, exit codes, internal and DNS-less networks, `network reload`, the
`--network` modes, `-p` forms and `port`, /etc/hosts, pods, and tear-down after a crash.

Every test makes its own networks (unique name, bridge name and /24 subnet): bridges, firewall
rules and the netavark lock are host-wide and other test files may run at the same time.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import time
from typing import Iterator

import pytest

from nethelpers import bridge_links as _bridge_ports
from nethelpers import free_port as _free_port
from nethelpers import NetworksOfTest, networks_made_by_test
from nethelpers import http_get as _http_get
from nethelpers import httpd_command as _httpd
from nethelpers import iptables_rules as _iptables
from nethelpers import netns_files as _netns_files
from pypodcli import Pypod, wait_for

BUSYBOX = "localhost/busybox:latest"
DEADLINE = 30.0
FETCH = "for i in $(seq 150); do wget -qO- {url} && exit 0; sleep 0.2; done; exit 1"
PODMAN_NETWORK_KEYS = {"name", "id", "driver", "network_interface", "created", "subnets", "ipv6_enabled",
                       "internal", "dns_enabled", "labels", "options", "ipam_options"}  # fmt: skip


def _free_port_pair() -> int:
    """A port P with P and P+1 free on 127.0.0.1 (for a range mapping)."""
    for _ in range(100):
        port = _free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise AssertionError("no two consecutive free ports")


def _unreachable(url: str) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=2).read()
    except OSError:
        return True
    return False


Nets = NetworksOfTest


@pytest.fixture
def nets(busybox_pypod: Pypod) -> Iterator[Nets]:
    with networks_made_by_test(busybox_pypod, "m", (150, 199)) as made:
        yield made


# --- tests ---------------------------------------------------------------------------------------
def test_create_options_listing_and_exit_codes(nets: Nets) -> None:
    pp = nets.pp
    name, bridge, subnet = nets.create("--label", "team=net", "-l", "flag", "--opt", "mtu=1400")
    net = ipaddress.ip_network(subnet)
    hosts = list(net.hosts())
    # a second one with gateway and ip-range
    other, _b2, subnet2 = nets.create()
    pp.ok("network", "rm", other)
    nets.networks.remove(other)
    net2 = ipaddress.ip_network(subnet2)
    ranged = f"nm{os.urandom(3).hex()}"
    nets.networks.append(ranged)
    half = list(net2.subnets(new_prefix=25))[1]
    pp.ok("network", "create", "--subnet", subnet2, "--gateway", str(list(net2.hosts())[-1]),
          "--ip-range", str(half), "--interface-name", f"pyr{os.urandom(3).hex()}", ranged)  # fmt: skip

    data = json.loads(pp.ok("network", "inspect", name).out)[0]
    assert set(data) == PODMAN_NETWORK_KEYS
    assert data["labels"] == {"flag": "", "team": "net"} and data["options"] == {"mtu": "1400"}
    assert data["network_interface"] == bridge and data["dns_enabled"] is True and data["internal"] is False
    assert data["subnets"] == [{"subnet": subnet, "gateway": str(hosts[0])}]
    ranged_data = json.loads(pp.ok("network", "inspect", ranged).out)[0]
    assert ranged_data["subnets"][0]["gateway"] == str(list(net2.hosts())[-1])
    assert ranged_data["subnets"][0]["lease_range"]["start_ip"] == str(half.network_address + 1)
    assert pp.ok("network", "inspect", "--format", "{{.Name}} {{.Driver}} {{.DNSEnabled}}", name).out.strip() == (
        f"{name} bridge true"
    )

    bad = pp("network", "create", "-d", "macvlanx", f"nm{os.urandom(3).hex()}")
    assert bad.rc == 125 and "unsupported driver macvlanx" in bad.err, bad.describe()

    # ls: -q, --noheading, --format, filters
    assert {name, ranged, "podman"} <= set(pp.ok("network", "ls", "-q").out.split())
    noheading = pp.ok("network", "ls", "--noheading").out
    assert "NETWORK ID" not in noheading and name in noheading
    assert "NETWORK ID" in pp.ok("network", "ls").out
    assert pp.ok("network", "ls", "-q", "--filter", "label=team=net").out.split() == [name]
    assert pp.ok("network", "ls", "-q", "--filter", "label=flag").out.split() == [name]
    assert pp.ok("network", "ls", "-q", "--filter", f"name={ranged}").out.split() == [ranged]
    assert pp.ok("network", "ls", "-q", "--filter", "driver=macvlan").out.split() == []
    assert name in pp.ok("network", "ls", "-q", "--filter", "driver=bridge").out.split()
    assert pp.ok("network", "ls", "--format", "{{.Name}}|{{.Driver}}", "--filter", f"name={name}").out.strip() == (
        f"{name}|bridge"
    )
    assert pp("network", "ls", "--filter", "bogus=1").err.strip() == 'Error: invalid filter "bogus"'

    # exists
    assert pp("network", "exists", name).rc == 0
    assert pp("network", "exists", f"nope{os.urandom(3).hex()}").rc == 1

    # a container on it: the MTU option and the ip-range hold
    pp.ok("run", "-d", "--name", "user", "--network", name, BUSYBOX, "sleep", "1000")
    assert "mtu 1400" in pp.ok("exec", "user", "ip", "-o", "link", "show", "eth0").out
    assert f"default via {hosts[0]}" in pp.ok("exec", "user", "ip", "route").out
    pp.ok("run", "-d", "--name", "ranged", "--network", ranged, BUSYBOX, "sleep", "1000")
    addr = pp.ok("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "ranged").out
    assert ipaddress.ip_address(addr.strip()) in half

    # rm of a network in use: podman's message, exit code 2; unknown: exit 1; prune keeps used ones
    busy = pp("network", "rm", name)
    assert busy.rc == 2, busy.describe()
    assert busy.err.strip() == (
        f'Error: "{name}" has associated containers with it. Use -f to forcibly delete containers and pods: '
        "network is being used"
    )
    missing = pp("network", "rm", f"nope{os.urandom(3).hex()}")
    assert missing.rc == 1 and "network not found" in missing.err, missing.describe()
    assert pp("network", "rm", "podman").rc == 125
    unused, _b3, _s3 = nets.create()
    pruned = pp.ok("network", "prune", "-f").out.split()
    assert unused in pruned and name not in pruned and ranged not in pruned and "podman" not in pruned
    assert pp("network", "exists", unused).rc == 1
    # rm -f removes the container using it, then the network and its bridge (-t 0: `sleep`
    # as PID 1 ignores SIGTERM, the default 10 s stop timeout would only slow the test down)
    pp.ok("network", "rm", "-f", "-t", "0", name)
    assert pp("container", "exists", "user").rc == 1
    assert pp("network", "exists", name).rc == 1
    assert f": {bridge}:" not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def test_internal_network_dns_scopes_and_disabled_dns(nets: Nets) -> None:
    from pypod.libpod.etcfiles import host_local_ip

    pp = nets.pp
    internal, _bi, subnet_i = nets.create("--internal")
    other, _bo, _so = nets.create()
    nodns, _bn, _sn = nets.create("--disable-dns")
    assert json.loads(pp.ok("network", "inspect", internal).out)[0]["internal"] is True
    pp.ok("run", "-d", "--name", "peer", "--network", internal, BUSYBOX, *_httpd("peer-ok"))
    host_ip = host_local_ip()
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        script = (f'({FETCH.format(url="http://peer/")}); ip route; '
                  f'if [ -n "{host_ip}" ] && nc -w 3 {host_ip} {port} </dev/null; then echo HOST-REACHED; fi')  # fmt: skip
        out = pp.ok("run", "--rm", "--network", internal, BUSYBOX, "sh", "-c", script, timeout=120).out
    assert "peer-ok" in out  # peers on the internal network reach each other by name
    assert "default" not in out and "HOST-REACHED" not in out, out  # but there is no way out

    # names of one network do not resolve on another
    lookup = pp("run", "--rm", "--network", other, BUSYBOX, "nslookup", "peer", timeout=120)
    assert lookup.rc != 0 and "NXDOMAIN" in lookup.out + lookup.err, lookup.describe()
    # --disable-dns: no aardvark nameserver (the network's gateway) in resolv.conf
    gateway = json.loads(pp.ok("network", "inspect", nodns).out)[0]["subnets"][0]["gateway"]
    resolv = pp.ok("run", "--rm", "--network", nodns, BUSYBOX, "cat", "/etc/resolv.conf").out
    assert f"nameserver {gateway}" not in resolv and "dns.podman" not in resolv
    resolv_i = pp.ok("run", "--rm", "--network", internal, BUSYBOX, "cat", "/etc/resolv.conf").out
    assert f"nameserver {ipaddress.ip_network(subnet_i).network_address + 1}" in resolv_i


def test_reload_restores_a_deleted_port_forwarding_rule(nets: Nets) -> None:
    pp = nets.pp
    name, _bridge, _subnet = nets.create()
    port = _free_port()
    cid = pp.ok("run", "-d", "--name", "web", "--network", name, "-p", f"127.0.0.1:{port}:80", BUSYBOX,
                *_httpd("reloaded")).out.strip()  # fmt: skip
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "reloaded"
    rules = [ln for ln in _iptables().splitlines() if f"--dport {port} " in ln and "-j DNAT" in ln]
    assert len(rules) == 1, rules
    # delete only this container's DNAT rule (as a firewall flush would)
    spec = rules[0].split()
    assert spec[0] == "-A"
    subprocess.run(["iptables", "-t", "nat", "-D", *spec[1:]], check=True)
    assert wait_for(lambda: _unreachable(f"http://127.0.0.1:{port}/"), DEADLINE, message="forwarding gone")
    assert pp.ok("network", "reload", "web").out.split() == [cid]
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "reloaded"
    assert cid in pp.ok("network", "reload", "--all").out.split()
    dnat = [ln for ln in _iptables().splitlines() if f"--dport {port} " in ln and "-j DNAT" in ln]
    assert len(dnat) == 1, dnat  # reload does not duplicate rules
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "reloaded"


def test_network_modes_multi_container_and_ns_path(nets: Nets) -> None:
    pp = nets.pp
    first, _b1, subnet1 = nets.create()
    second, _b2, subnet2 = nets.create()
    out = pp.ok("run", "-d", "--name", "both", "--network", f"{first},{second}", BUSYBOX, "sleep", "1000").out
    assert out.strip()
    addrs = pp.ok("exec", "both", "ip", "-o", "-4", "addr").out
    found = {ln.split()[1]: ipaddress.ip_interface(ln.split("inet ")[1].split()[0]).ip
             for ln in addrs.splitlines() if "inet " in ln}  # fmt: skip
    assert found["eth0"] in ipaddress.ip_network(subnet1) and found["eth1"] in ipaddress.ip_network(subnet2)
    shared = pp.ok("run", "--rm", "--network", "container:both", BUSYBOX, "ip", "-o", "-4", "addr").out
    assert str(found["eth0"]) in shared and str(found["eth1"]) in shared
    none = pp.ok("run", "--rm", "--network", "none", BUSYBOX, "ip", "-o", "link").out
    assert [ln.split(":")[1].strip() for ln in none.splitlines()] == ["lo"]

    ns_name = f"pypodt{os.urandom(3).hex()}"
    nets.named_netns.append(ns_name)
    subprocess.run(["ip", "netns", "add", ns_name], check=True)
    subprocess.run(["ip", "-n", ns_name, "addr", "add", "192.0.2.250/32", "dev", "lo"], check=True)
    addrs = pp.ok("run", "--rm", "--network", f"ns:/run/netns/{ns_name}", BUSYBOX, "ip", "-o", "addr").out
    assert "192.0.2.250/32" in addrs
    pp.ok("rm", "-f", "-t", "0", "both")
    assert _netns_files(pp) == []
    assert os.path.exists(f"/run/netns/{ns_name}")  # a namespace pypod did not make is left alone


def test_publish_forms_and_port_output(nets: Nets) -> None:
    pp = nets.pp
    name, _bridge, _subnet = nets.create()
    p_any, p_lo, p_range, p_udp = _free_port(), _free_port(), _free_port_pair(), _free_port(socket.SOCK_DGRAM)
    script = ("mkdir -p /a /b && echo eighty > /a/index.html && echo eighty-one > /b/index.html && "
              "httpd -p 80 -h /a && httpd -p 81 -h /b && exec sleep 1000")  # fmt: skip
    pp.ok("run", "-d", "--name", "pub", "--network", name, "-p", f"{p_any}:80", "-p", f"127.0.0.1:{p_lo}:81",
          "-p", "127.0.0.1::82", "-p", "83", "-p", f"127.0.0.1:{p_range}-{p_range + 1}:80-81",
          "-p", f"127.0.0.1:{p_udp}:53/udp", BUSYBOX, "sh", "-c", script)  # fmt: skip
    lines = pp.ok("port", "pub").out.splitlines()
    mapping: dict[str, list[str]] = {}
    for ln in lines:
        key, _arrow, value = ln.partition(" -> ")
        mapping.setdefault(key, []).append(value)
    assert sorted(mapping["80/tcp"]) == sorted([f"0.0.0.0:{p_any}", f"127.0.0.1:{p_range}"])
    assert sorted(mapping["81/tcp"]) == sorted([f"127.0.0.1:{p_lo}", f"127.0.0.1:{p_range + 1}"])
    assert mapping["53/udp"] == [f"127.0.0.1:{p_udp}"]
    (m82,) = mapping["82/tcp"]
    (m83,) = mapping["83/tcp"]
    assert m82.startswith("127.0.0.1:") and int(m82.split(":")[1]) > 0
    assert m83.startswith("0.0.0.0:") and int(m83.split(":")[1]) > 0
    assert pp.ok("port", "pub", "53/udp").out.strip() == f"127.0.0.1:{p_udp}"
    missing = pp("port", "pub", "99")
    assert missing.rc == 125 and 'failed to find published port "99"' in missing.err, missing.describe()
    assert _http_get(f"http://127.0.0.1:{p_lo}/").strip() == "eighty-one"
    assert _http_get(f"http://127.0.0.1:{p_range}/").strip() == "eighty"
    assert _http_get(f"http://127.0.0.1:{p_range + 1}/").strip() == "eighty-one"
    assert _http_get(f"http://127.0.0.1:{p_any}/").strip() == "eighty"
    ports = pp.ok("ps", "--format", "{{.Ports}}", "--filter", "name=pub").out
    assert f"127.0.0.1:{p_range}-{p_range + 1}->80-81/tcp" in ports and f"127.0.0.1:{p_udp}->53/udp" in ports

    # -P publishes the image's EXPOSE on random host ports
    image = f"localhost/exposer{os.urandom(3).hex()}"
    pp.ok("commit", "--change", "EXPOSE 80", "pub", image)
    pp.ok("run", "-d", "--name", "auto", "--network", name, "-P", image, *_httpd("exposed"))
    auto = pp.ok("port", "auto", "80").out.strip()
    assert _http_get(f"http://127.0.0.1:{auto.rsplit(':', 1)[1]}/").strip() == "exposed"


def test_hosts_and_resolv_conf_like_podman(nets: Nets) -> None:
    pp = nets.pp
    name, _bridge, subnet = nets.create()
    gateway = str(ipaddress.ip_network(subnet).network_address + 1)
    pp.ok("run", "-d", "--name", "hostsy", "--network", name, "--hostname", "myhost", "--ip",
          str(ipaddress.ip_network(subnet).network_address + 50), "--add-host", "extra.test:192.0.2.7",
          "--dns", "192.0.2.53", "--dns-search", "example.test", "--dns-option", "ndots:3",
          BUSYBOX, "sleep", "1000")  # fmt: skip
    hosts = pp.ok("exec", "hostsy", "cat", "/etc/hosts").out.splitlines()
    base: list[str] = []
    base_names: set[str] = set()
    with open("/etc/hosts", encoding="utf-8", errors="replace") as f:
        for raw in f:
            fields = raw.split("#", 1)[0].split()
            if len(fields) > 1:
                base.append("\t".join([fields[0], " ".join(fields[1:])]))
                base_names.update(fields[1:])
    expected = ["192.0.2.7\textra.test", *base]
    if "localhost" not in base_names:
        expected += ["127.0.0.1\tlocalhost", "::1\tlocalhost"]
    expected.append(f"{gateway}\thost.containers.internal")
    own = " ".join(n for n in ("myhost", "hostsy") if n not in base_names)
    expected.append(f"{ipaddress.ip_network(subnet).network_address + 50}\t{own}")
    assert hosts == expected
    resolv = pp.ok("exec", "hostsy", "cat", "/etc/resolv.conf").out.splitlines()
    assert resolv == ["search example.test", "nameserver 192.0.2.53", "options ndots:3"]
    assert pp.ok("exec", "hostsy", "hostname").out.strip() == "myhost"
    # no network: podman's loopback line for the container's own names
    lo = pp.ok("run", "--rm", "--name", "lonely", "--network", "none", BUSYBOX, "cat", "/etc/hosts").out
    assert lo.splitlines()[-1].startswith("127.0.0.1\t") and lo.splitlines()[-1].endswith(" lonely")


def test_pod_options_listing_and_commands(nets: Nets) -> None:
    pp = nets.pp
    name, _bridge, subnet = nets.create()
    port = _free_port()
    pod = f"pm{os.urandom(3).hex()}"
    pp.ok("pod", "create", "--name", pod, "--hostname", "podhost", "-l", "tier=web", "--network", name,
          "--share", "net,uts,ipc", "-p", f"127.0.0.1:{port}:80")  # fmt: skip
    pp.ok("run", "-d", "--pod", pod, "--name", f"{pod}-web", BUSYBOX, "sh", "-c",
          "mkdir /w && hostname > /w/index.html && echo started && exec httpd -f -p 80 -h /w")  # fmt: skip
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "podhost"
    infra_ip = pp.ok("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).out.strip()
    addr = pp.ok("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", infra_ip).out
    assert ipaddress.ip_address(addr.strip()) in ipaddress.ip_network(subnet)
    row = pp.ok("pod", "ps", "--filter", "label=tier=web", "--format",
                "{{.Name}} {{.Status}} {{.NumberOfContainers}}").out.strip()  # fmt: skip
    assert row == f"{pod} Running 2"
    table = pp.ok("pod", "ps", "--ctr-names", "--ctr-status", "--filter", f"name={pod}").out
    assert f"{pod}-web" in table and "running,running" in table
    assert "started" in pp.ok("pod", "logs", pod).out
    assert "httpd" in pp.ok("pod", "top", pod).out
    stats = pp.ok("pod", "stats", "--no-stream", pod).out
    assert f"{pod}-web" in stats
    assert pp("pod", "exists", pod).rc == 0 and pp("pod", "exists", f"{pod}x").rc == 1
    assert pp.ok("pod", "prune", "-f").out.strip() == ""  # running: kept
    pod_id = pp.ok("pod", "inspect", "--format", "{{.Id}}", pod).out.strip()
    pp.ok("pod", "stop", "-t", "0", pod)
    assert pp.ok("pod", "prune", "-f").out.split() == [pod_id]
    assert pp("pod", "exists", pod).rc == 1
    assert _netns_files(pp) == []
    assert f"--dport {port} " not in _iptables()


def test_crash_during_network_setup_then_next_commands_leave_nothing(nets: Nets) -> None:
    pp = nets.pp
    name, bridge, subnet = nets.create()
    port = _free_port()
    proc = pp.popen("run", "-d", "--name", "crashy", "--network", name, "-p", f"127.0.0.1:{port}:80", BUSYBOX,
                    "sleep", "1000", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        # kill -9 as soon as the namespace exists (network set-up under way)
        end = time.monotonic() + DEADLINE
        while not _netns_files(pp) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
        proc.kill()
    finally:
        proc.wait(timeout=DEADLINE)
    # whatever the crash left: starting the container again yields exactly one netns, veth and rule
    pp.ok("start", "crashy", timeout=120)
    assert len(_netns_files(pp)) == 1
    assert len(_bridge_ports(bridge)) == 1
    assert len([ln for ln in _iptables().splitlines() if f"--dport {port} " in ln and "-j DNAT" in ln]) == 1
    pp.ok("rm", "-f", "-t", "0", "crashy")
    assert _netns_files(pp) == []
    assert not os.path.exists(f"/sys/class/net/{bridge}") or _bridge_ports(bridge) == []
    assert f"--dport {port} " not in _iptables() and subnet not in _iptables()
    leases = os.path.join(pp.tmpdir, "networks", f"{name}.json")
    if os.path.exists(leases):
        with open(leases, encoding="utf-8") as f:
            assert json.load(f).get("leases", {}) == {}

    # a crash followed directly by rm leaves nothing either
    proc = pp.popen("run", "-d", "--name", "crashy2", "--network", name, "-p", f"127.0.0.1:{port}:80", BUSYBOX,
                    "sleep", "1000", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        end = time.monotonic() + DEADLINE
        while not _netns_files(pp) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
        proc.kill()
    finally:
        proc.wait(timeout=DEADLINE)
    pp.ok("rm", "-f", "-t", "0", "crashy2")
    pp.ok("network", "rm", name)
    nets.networks.remove(name)
    assert _netns_files(pp) == []
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert f"--dport {port} " not in _iptables() and subnet not in _iptables()
