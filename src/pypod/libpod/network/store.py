"""Network definitions: netavark's JSON network objects, one file per network.

Files live in ``<network_config_dir>/<name>.json`` (default ``<root>/networks``).  The
default network ``podman`` (bridge ``pypod0``, 10.87.0.0/16) is written on first use.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re

from pypod.errors import AlreadyExists, InvalidArgument, NoSuchNetwork, AmbiguousName
from pypod.libpod.osutil import flocked
from pypod.libpod.timefmt import now_rfc3339_micro

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterator

DEFAULT_NETWORK = "podman"
DEFAULT_INTERFACE = "pypod0"
DEFAULT_SUBNET = "10.87.0.0/16"
INTERFACE_PREFIX = "pypod"
# podman's built-in default; EngineConfig still carries it, but pypod keeps its own networks
_PODMAN_CONFIG_DIR = "/etc/containers/networks"
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
BRIDGE_OPTIONS = ("mtu", "vlan", "isolate", "metric")


def network_config_dir(config: Any) -> str:
    """The directory of network files for an EngineConfig (``<root>/networks`` by default)."""
    configured = getattr(config, "network_config_dir", "") or ""
    if configured and configured != _PODMAN_CONFIG_DIR:
        return configured
    return os.path.join(config.root, "networks")


def _host_routes() -> list[ipaddress.IPv4Network]:
    """IPv4 destinations routed on the host (without the default route)."""
    nets: list[ipaddress.IPv4Network] = []
    try:
        with open("/proc/net/route", encoding="ascii") as f:
            next(f, None)
            for line in f:
                cols = line.split()
                if len(cols) < 8:
                    continue
                dest = int(cols[1], 16).to_bytes(4, "little")
                mask = int(cols[7], 16).to_bytes(4, "little")
                net = ipaddress.IPv4Network(
                    (ipaddress.IPv4Address(dest), bin(int.from_bytes(mask, "big")).count("1")), strict=False
                )
                if net.prefixlen:
                    nets.append(net)
    except OSError:
        pass
    return nets


def _subnets_of(network: dict[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(s["subnet"], strict=False) for s in network.get("subnets", [])]


class NetworkStore:
    """Create, find, list and remove network definitions."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.dir = network_config_dir(config)

    # --- files ---------------------------------------------------------------
    def _path(self, name: str) -> str:
        return os.path.join(self.dir, f"{name}.json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.dir, exist_ok=True)
        with flocked(os.path.join(self.dir, ".pypod-networks.lock")):
            yield

    def _write(self, network: dict[str, Any]) -> None:
        path = self._path(network["name"])
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(network, f, indent=5)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)

    def _read_all(self) -> list[dict[str, Any]]:
        networks: list[dict[str, Any]] = []
        try:
            names = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            names = []
        for entry in names:
            if not entry.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.dir, entry), encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError):
                continue  # a half-written or foreign file is not a network
            if isinstance(data, dict) and data.get("name") and data.get("id"):
                networks.append(data)
        return networks

    def _ensure_default(self) -> None:
        if os.path.exists(self._path(DEFAULT_NETWORK)):
            return
        with self._locked():
            if os.path.exists(self._path(DEFAULT_NETWORK)):
                return
            self._write(self.default_definition())

    @staticmethod
    def default_definition() -> dict[str, Any]:
        net = ipaddress.ip_network(DEFAULT_SUBNET)
        return {
            "name": DEFAULT_NETWORK,
            "id": _default_network_id(),
            "driver": "bridge",
            "network_interface": DEFAULT_INTERFACE,
            "created": now_rfc3339_micro(),
            "subnets": [{"subnet": str(net), "gateway": str(net.network_address + 1)}],
            "ipv6_enabled": False,
            "internal": False,
            "dns_enabled": False,
            "ipam_options": {"driver": "host-local"},
        }

    # --- queries -------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        """Every network, the default one included, sorted by name."""
        self._ensure_default()
        return sorted(self._read_all(), key=lambda n: n["name"])

    def get(self, name_or_id: str) -> dict[str, Any]:
        """A network by exact name, full ID or unique ID prefix."""
        if name_or_id == DEFAULT_NETWORK:
            self._ensure_default()
        networks = self._read_all()
        for net in networks:
            if net["name"] == name_or_id or net["id"] == name_or_id:
                return net
        if name_or_id and all(c in "0123456789abcdef" for c in name_or_id):
            matches = [n for n in networks if n["id"].startswith(name_or_id)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise AmbiguousName(f"more than one result for network ID {name_or_id}")
        if name_or_id and name_or_id == _default_network_id()[: len(name_or_id)]:
            self._ensure_default()
            return self.get(DEFAULT_NETWORK)
        raise NoSuchNetwork(f"unable to find network with name or ID {name_or_id}: network not found")

    def exists(self, name_or_id: str) -> bool:
        try:
            self.get(name_or_id)
        except NoSuchNetwork:
            return False
        return True

    # --- changes -------------------------------------------------------------
    def create(
        self,
        name: str | None = None,
        subnet: str | None = None,
        gateway: str | None = None,
        ip_range: str | None = None,
        internal: bool = False,
        disable_dns: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        driver: str = "bridge",
        interface_name: str | None = None,
    ) -> dict[str, Any]:
        """Create and save a bridge network; returns its definition."""
        if driver != "bridge":
            raise InvalidArgument(f"unsupported driver {driver}: invalid argument")
        if name is not None and not _NAME_RE.match(name):
            raise InvalidArgument(f"network name {name} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")
        options = dict(options or {})
        for key, value in options.items():
            if key not in BRIDGE_OPTIONS:
                raise InvalidArgument(f"unsupported bridge network option {key}")
            if key in ("mtu", "vlan", "metric") and not str(value).isdecimal():
                raise InvalidArgument(f'invalid value "{value}" for bridge network option {key}')
        self._ensure_default()
        with self._locked():
            existing = self._read_all()
            if name is None:
                name = self._free_name(existing)
            if any(n["name"] == name for n in existing):
                raise AlreadyExists(f"network name {name} already used: network already exists")
            subnet_entry = self._subnet_entry(existing, subnet, gateway, ip_range, internal and disable_dns)
            if interface_name:
                if any(n.get("network_interface") == interface_name for n in existing):
                    raise AlreadyExists(f"bridge name {interface_name} already in use")
            else:
                interface_name = self._free_interface(existing)
            network: dict[str, Any] = {
                "name": name,
                "id": os.urandom(32).hex(),
                "driver": "bridge",
                "network_interface": interface_name,
                "created": now_rfc3339_micro(),
                "subnets": [subnet_entry],
                "ipv6_enabled": False,
                "internal": bool(internal),
                "dns_enabled": not disable_dns,
            }
            if labels:
                network["labels"] = dict(labels)
            if options:
                network["options"] = {k: str(v) for k, v in options.items()}
            network["ipam_options"] = {"driver": "host-local"}
            self._write(network)
        return network

    def remove(self, name_or_id: str) -> dict[str, Any]:
        """Delete a network definition (callers check that no container uses it)."""
        network = self.get(name_or_id)
        if network["name"] == DEFAULT_NETWORK:
            raise InvalidArgument(f"default network {DEFAULT_NETWORK} cannot be removed")
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(network["name"]))
        return network

    # --- helpers -------------------------------------------------------------
    @staticmethod
    def _free_name(existing: list[dict[str, Any]]) -> str:
        used = {n["name"] for n in existing}
        n = 1
        while f"{INTERFACE_PREFIX}{n}" in used:
            n += 1
        return f"{INTERFACE_PREFIX}{n}"

    @staticmethod
    def _free_interface(existing: list[dict[str, Any]]) -> str:
        used = {n.get("network_interface") for n in existing}
        try:
            host = set(os.listdir("/sys/class/net"))
        except OSError:
            host = set()
        n = 1
        while f"{INTERFACE_PREFIX}{n}" in used or f"{INTERFACE_PREFIX}{n}" in host:
            n += 1
        return f"{INTERFACE_PREFIX}{n}"

    def _subnet_entry(
        self,
        existing: list[dict[str, Any]],
        subnet: str | None,
        gateway: str | None,
        ip_range: str | None,
        no_gateway: bool,
    ) -> dict[str, Any]:
        used = [s for n in existing for s in _subnets_of(n)]
        if subnet:
            try:
                net = ipaddress.ip_network(subnet, strict=False)
            except ValueError as exc:
                raise InvalidArgument(f"invalid subnet {subnet}: {exc}") from exc
            if net.version != 4:
                raise InvalidArgument("pypod supports IPv4 subnets only: invalid argument")
            if any(net.overlaps(u) for u in used if u.version == 4):
                raise InvalidArgument(f"subnet {net} is already used on the host or by another config")
        else:
            if gateway or ip_range:
                raise InvalidArgument("gateway and ip-range need a subnet: invalid argument")
            net = self._free_subnet(used)
        entry: dict[str, Any] = {"subnet": str(net)}
        if gateway:
            try:
                gw = ipaddress.ip_address(gateway)
            except ValueError as exc:
                raise InvalidArgument(f"invalid gateway {gateway}: {exc}") from exc
            if gw not in net or gw in (net.network_address, net.broadcast_address):
                raise InvalidArgument(f"gateway {gateway} not in subnet {net}")
            entry["gateway"] = str(gw)
        elif not no_gateway:
            entry["gateway"] = str(net.network_address + 1)
        if ip_range:
            try:
                rng = ipaddress.ip_network(ip_range, strict=False)
            except ValueError as exc:
                raise InvalidArgument(f"invalid ip-range {ip_range}: {exc}") from exc
            start = rng.network_address + 1 if rng.num_addresses > 2 else rng.network_address
            if start not in net:
                raise InvalidArgument(f"lease range start ip {start} not in subnet {net}")
            if not rng.subnet_of(net):  # type: ignore[arg-type]
                raise InvalidArgument(f"lease range end ip {rng.broadcast_address} not in subnet {net}")
            entry["lease_range"] = {"start_ip": str(start), "end_ip": str(rng.broadcast_address)}
        return entry

    @staticmethod
    def _free_subnet(used: list[Any]) -> ipaddress.IPv4Network:
        taken = [u for u in used if u.version == 4] + _host_routes()
        for third in range(256):
            candidate = ipaddress.IPv4Network(f"10.89.{third}.0/24")
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
        raise InvalidArgument("could not find a free subnet in 10.89.0.0/16: all subnets are in use")


def _default_network_id() -> str:
    """podman's ID of its default network: sha256 of the name (hashlib loads OpenSSL: only here)."""
    import hashlib

    return hashlib.sha256(DEFAULT_NETWORK.encode()).hexdigest()
