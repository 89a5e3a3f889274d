"""IP address leases per network, safe across processes (one flock-guarded JSON file per network).

File ``<tmpdir>/networks/<network>.json``: ``{"leases": {ctr_id: ip}, "last": ip}``; allocation
continues after the last address handed out, so a freed address is not reused at once; in a
large pool (the shared default network) each tmpdir starts at its own place.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import zlib

from pypod.errors import InvalidArgument, NetworkError
from pypod.libpod.osutil import flocked

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterable, Iterator

SPREAD_MIN_POOL = 4096


def _pool(network: dict[str, Any]) -> tuple[ipaddress.IPv4Network, int, int, set[int]]:
    """(subnet, first, last, reserved) as integers for the network's first subnet."""
    if not network.get("subnets"):
        raise NetworkError(f"network {network['name']} has no subnet to allocate from")
    entry = network["subnets"][0]
    net = ipaddress.ip_network(entry["subnet"], strict=False)
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - 1
    if net.num_addresses <= 2:
        first, last = int(net.network_address), int(net.broadcast_address)
    rng = entry.get("lease_range") or {}
    if rng.get("start_ip"):
        first = max(first, int(ipaddress.ip_address(rng["start_ip"])))
    if rng.get("end_ip"):
        last = min(last, int(ipaddress.ip_address(rng["end_ip"])))
    reserved = {int(ipaddress.ip_address(entry["gateway"]))} if entry.get("gateway") else set()
    return net, first, last, reserved  # type: ignore[return-value]


class IPAM:
    """Allocate and release container addresses on networks."""

    def __init__(self, tmpdir: str) -> None:
        self.dir = os.path.join(tmpdir, "networks")

    def _path(self, network_name: str) -> str:
        return os.path.join(self.dir, f"{network_name}.json")

    @contextlib.contextmanager
    def _leases(self, network_name: str) -> Iterator[dict[str, Any]]:
        """The lease table of a network, locked, written back on success."""
        os.makedirs(self.dir, exist_ok=True)
        path = self._path(network_name)
        with flocked(path) as fd:
            raw = b""
            while chunk := os.read(fd, 65536):
                raw += chunk
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                data = {}
            data.setdefault("leases", {})
            before = json.dumps(data, sort_keys=True)
            yield data
            after = json.dumps(data, sort_keys=True)
            if after != before:
                encoded = after.encode()
                # overwrite, then cut to length: a truncation to 0 followed by a write makes ext4
                # (auto_da_alloc) flush the file on close, up to ~20 ms on a busy disk
                os.pwrite(fd, encoded, 0)
                os.ftruncate(fd, len(encoded))

    def allocate(self, network: dict[str, Any], ctr_id: str, static_ip: str | None = None) -> str:
        """The container's address on ``network`` (its existing lease, ``static_ip``, or the next free one)."""
        net, first, last, reserved = _pool(network)
        name = network["name"]
        with self._leases(name) as data:
            leases: dict[str, str] = data["leases"]
            if static_ip:
                try:
                    wanted = ipaddress.ip_address(static_ip)
                except ValueError as exc:
                    raise InvalidArgument(f"invalid IP address {static_ip}: {exc}") from exc
                if wanted not in net or int(wanted) in reserved or wanted in (net.network_address, net.broadcast_address):
                    raise InvalidArgument(f"requested static ip {static_ip} not in any subnet on network {name}")
                for other, ip in leases.items():
                    if ip == str(wanted) and other != ctr_id:
                        raise NetworkError(
                            f"IPAM error: requested ip address {static_ip} is already allocated to container ID {other}"
                        )
                leases[ctr_id] = str(wanted)
                return str(wanted)
            if ctr_id in leases:
                return leases[ctr_id]
            taken = {int(ipaddress.ip_address(ip)) for ip in leases.values()} | reserved
            size = last - first + 1
            start = first
            if data.get("last"):
                previous = int(ipaddress.ip_address(data["last"]))
                if first <= previous < last:
                    start = previous + 1
            elif size >= SPREAD_MIN_POOL:
                # a large pool is usually the default network, whose bridge every pypod root on
                # the host shares while each keeps its own leases: start each root elsewhere
                start = first + zlib.crc32(self.dir.encode()) % size
            for step in range(max(size, 0)):
                candidate = first + (start - first + step) % size
                if candidate not in taken:
                    ip = str(ipaddress.ip_address(candidate))
                    leases[ctr_id] = ip
                    data["last"] = ip
                    return ip
        raise NetworkError(f"IPAM error: failed to find free IP in range: {net}: no free addresses on network {name}")

    def release(self, network: str | dict[str, Any], ctr_id: str) -> None:
        """Give back the container's address on a network (name or definition; no error when it has none)."""
        network_name = network["name"] if isinstance(network, dict) else network
        if not os.path.exists(self._path(network_name)):
            return
        with self._leases(network_name) as data:
            data["leases"].pop(ctr_id, None)

    def lease(self, network_name: str, ctr_id: str) -> str | None:
        if not os.path.exists(self._path(network_name)):
            return None
        with self._leases(network_name) as data:
            return data["leases"].get(ctr_id)

    def leases(self, network_name: str) -> dict[str, str]:
        if not os.path.exists(self._path(network_name)):
            return {}
        with self._leases(network_name) as data:
            return dict(data["leases"])

    def networks(self) -> list[str]:
        try:
            return sorted(e[: -len(".json")] for e in os.listdir(self.dir) if e.endswith(".json"))
        except FileNotFoundError:
            return []

    def reconcile(self, live_ids: Iterable[str]) -> list[tuple[str, str]]:
        """Drop leases of containers not in ``live_ids``; returns the (network, ctr_id) pairs freed."""
        live = set(live_ids)
        freed: list[tuple[str, str]] = []
        for name in self.networks():
            with self._leases(name) as data:
                for ctr_id in [c for c in data["leases"] if c not in live]:
                    del data["leases"][ctr_id]
                    freed.append((name, ctr_id))
        return freed

    def drop_network(self, network_name: str) -> None:
        """Forget every lease of a removed network."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(network_name))
