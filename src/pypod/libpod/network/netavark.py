"""Calls of Debian's netavark (bridge, veth, firewall, port forwarding) and aardvark-dns (names).

``netavark --config <tmpdir>/netavark --rootless=false --aardvark-binary=... setup|teardown <netns>``
with the network options JSON on stdin; setup prints the per-network status JSON.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket

from pypod.errors import NetworkError
from pypod.libpod.osutil import flocked, run_captured

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

NETAVARK_PATHS = ("/usr/libexec/podman/netavark", "/usr/lib/podman/netavark", "/usr/local/libexec/podman/netavark")
AARDVARK_PATHS = ("/usr/libexec/podman/aardvark-dns", "/usr/lib/podman/aardvark-dns", "/usr/local/libexec/podman/aardvark-dns")
# Bridges, iptables chains and aardvark are host-wide: serialise netavark calls of every pypod root.
GLOBAL_LOCK = "/run/lock/pypod-netavark.lock"
TIMEOUT = 60.0


def _first_executable(paths: tuple[str, ...], name: str) -> str:
    import shutil

    for path in paths:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name) or ""


def netavark_binary() -> str:
    return _first_executable(NETAVARK_PATHS, "netavark")


def aardvark_binary() -> str:
    return _first_executable(AARDVARK_PATHS, "aardvark-dns")


def check_ports(port_mappings: list[dict[str, Any]]) -> None:
    """Raise NetworkError naming the first host port that something on the host already holds."""
    for pm in port_mappings:
        host_ip = pm.get("host_ip") or "0.0.0.0"
        count = int(pm.get("range") or 1)
        for proto in str(pm.get("protocol") or "tcp").split(","):
            kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
            if proto == "sctp":
                continue  # no portable way to probe SCTP
            family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
            for port in range(int(pm["host_port"]), int(pm["host_port"]) + count):
                with socket.socket(family, kind) as sock:
                    if kind == socket.SOCK_STREAM:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        sock.bind((host_ip, port))
                    except OSError as exc:
                        if exc.errno == errno.EADDRINUSE:
                            raise NetworkError(
                                f"cannot expose port {host_ip}:{port}/{proto}: "
                                f"bind: address already in use"
                            ) from exc
                        if exc.errno == errno.EADDRNOTAVAIL:
                            raise NetworkError(
                                f"cannot expose port {host_ip}:{port}/{proto}: "
                                f"bind: cannot assign requested address"
                            ) from exc
                        raise NetworkError(f"cannot expose port {host_ip}:{port}/{proto}: {exc.strerror}") from exc


def free_host_port(host_ip: str, protocol: str) -> int:
    """A port the kernel considers free right now (for ``-p CONTAINER_PORT`` without host port)."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host_ip or "0.0.0.0", 0))
        return int(sock.getsockname()[1])


class Netavark:
    """Runs netavark for one pypod tmpdir (aardvark's config lives in ``<tmpdir>/netavark``)."""

    def __init__(self, tmpdir: str, binary: str | None = None, aardvark: str | None = None) -> None:
        self.config_dir = os.path.join(tmpdir, "netavark")
        self.binary = binary or netavark_binary()
        self.aardvark = aardvark or aardvark_binary()

    def _lock_path(self) -> str:
        """The host-wide lock serialising netavark calls (bridges and iptables are shared)."""
        if os.path.isdir(os.path.dirname(GLOBAL_LOCK)):
            return GLOBAL_LOCK
        return os.path.join(self.config_dir, "pypod.lock")

    @staticmethod
    def options(
        ctr_id: str,
        ctr_name: str,
        networks: dict[str, dict[str, Any]],
        network_info: dict[str, dict[str, Any]],
        port_mappings: list[dict[str, Any]] | None = None,
        dns_servers: list[str] | None = None,
    ) -> dict[str, Any]:
        """netavark's network options JSON.

        ``networks``: name -> {ip, mac?, aliases, interface_name}; ``network_info``: name -> definition.
        """
        per_network: dict[str, Any] = {}
        for name, want in networks.items():
            entry: dict[str, Any] = {
                "interface_name": want["interface_name"],
                "aliases": list(want.get("aliases") or []),
            }
            if want.get("ip"):
                entry["static_ips"] = [want["ip"]]
            if want.get("mac"):
                entry["static_mac"] = want["mac"]
            per_network[name] = entry
        opts: dict[str, Any] = {
            "container_id": ctr_id,
            "container_name": ctr_name,
            "networks": per_network,
            "network_info": {name: network_info[name] for name in networks},
        }
        if port_mappings:
            # omitted when empty, as podman does: an empty list still makes netavark create and
            # later delete the port-forwarding DNAT chain (4 iptables calls per run)
            opts["port_mappings"] = [
                {
                    "host_ip": pm.get("host_ip") or "",
                    "container_port": int(pm["container_port"]),
                    "host_port": int(pm["host_port"]),
                    "range": int(pm.get("range") or 1),
                    "protocol": pm.get("protocol") or "tcp",
                }
                for pm in port_mappings
            ]
        if dns_servers:
            opts["dns_servers"] = list(dns_servers)
        return opts

    def _run(self, verb: str, netns_path: str, opts: dict[str, Any]) -> str:
        if not self.binary:
            raise NetworkError(f"could not find netavark (tried {', '.join(NETAVARK_PATHS)}): install netavark")
        os.makedirs(self.config_dir, exist_ok=True)
        argv = [self.binary, "--config", self.config_dir, "--rootless=false"]
        if self.aardvark:
            argv.append(f"--aardvark-binary={self.aardvark}")
        argv += [verb, netns_path]
        lock_path = self._lock_path()
        wrapper = _first_executable(("/usr/bin/flock", "/bin/flock"), "flock")
        if wrapper:
            # flock(1) holds the host-wide lock until netavark exits, even when pypod is killed
            # mid-call; -o keeps it out of aardvark-dns, which netavark leaves running
            argv = [wrapper, "-o", lock_path, *argv]
        with contextlib.nullcontext() if wrapper else flocked(lock_path):
            try:
                proc = run_captured(argv, input=json.dumps(opts).encode(), timeout=TIMEOUT)
            except TimeoutError as exc:
                raise NetworkError(f"netavark {verb} timed out after {TIMEOUT:.0f}s") from exc
            except OSError as exc:
                raise NetworkError(f"netavark: {exc}") from exc
        out = proc.stdout.strip()
        if proc.returncode != 0:
            raise NetworkError(f"netavark: {_error_text(out, proc.stderr)}")
        return out

    def setup(
        self,
        netns_path: str,
        ctr_id: str,
        ctr_name: str,
        networks: dict[str, dict[str, Any]],
        port_mappings: list[dict[str, Any]] | None = None,
        dns_servers: list[str] | None = None,
        *,
        network_info: dict[str, dict[str, Any]],
        check_host_ports: bool = True,
    ) -> dict[str, Any]:
        """Attach the netns to ``networks``; returns netavark's status (name -> interfaces, DNS)."""
        if check_host_ports and port_mappings:
            check_ports(port_mappings)
        opts = self.options(ctr_id, ctr_name, networks, network_info, port_mappings, dns_servers)
        return self.setup_options(netns_path, opts)

    def setup_options(self, netns_path: str, opts: dict[str, Any]) -> dict[str, Any]:
        """Setup from a prepared options dict (as built by :meth:`options`)."""
        out = self._run("setup", netns_path, opts)
        try:
            return json.loads(out) if out else {}
        except ValueError as exc:
            raise NetworkError(f"netavark setup printed something that is not JSON: {out[:200]}") from exc

    def teardown(
        self,
        netns_path: str,
        ctr_id: str,
        ctr_name: str,
        networks: dict[str, dict[str, Any]],
        port_mappings: list[dict[str, Any]] | None = None,
        dns_servers: list[str] | None = None,
        *,
        network_info: dict[str, dict[str, Any]],
    ) -> None:
        """Undo :meth:`setup` (the same arguments remove the same rules)."""
        opts = self.options(ctr_id, ctr_name, networks, network_info, port_mappings, dns_servers)
        self.teardown_options(netns_path, opts)

    def teardown_options(self, netns_path: str, opts: dict[str, Any]) -> None:
        self._run("teardown", netns_path, opts)


def _error_text(stdout: str, stderr: str) -> str:
    """netavark's one-line error (its stdout JSON ``{"error": ...}``, else stderr)."""
    with contextlib.suppress(ValueError):
        data = json.loads(stdout)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "failed to connect to syslog" not in ln]
    return lines[-1] if lines else (stdout or "failed")
