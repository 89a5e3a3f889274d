"""`network connect` / `network disconnect` for an existing container."""

from __future__ import annotations

import dataclasses

from pypod.errors import InvalidArgument, NetworkError
from pypod.libpod.network.lifecycle import container_networks, join_networks, leave_networks
from pypod.libpod.network.store import DEFAULT_NETWORK, NetworkStore

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_LIVE = ("running", "paused", "created")  # "created" = initialized: the netns exists


def _save(rt: Any, ctr: Any, *, config_changed: bool) -> None:
    if config_changed:
        rt.db.save_container_config(ctr.id, ctr.config.name, ctr.config.to_dict())
    rt.db.save_container_state(ctr.id, ctr.state.to_dict())


def _check_mode(ctr: Any) -> None:
    mode = ctr.config.network_mode or ""
    if mode in ("none", "host", "slirp4netns", "pasta") or mode.startswith(("container:", "ns:")):
        raise InvalidArgument(f"{mode} network mode does not support connecting to networks: invalid argument")


def connect(rt: Any, ctr: Any, net: str, aliases: list[str] | None = None, ip: str | None = None) -> None:
    """Add ``ctr`` to network ``net``: saved in its config; set up now when it is running."""
    network = NetworkStore(rt.config).get(net)
    name = network["name"]
    with rt.locks.lock(ctr.config.lock_id):
        if hasattr(ctr, "sync"):
            ctr.sync()
        _check_mode(ctr)
        current = container_networks(ctr.config)
        if name in current:
            if ctr.state.status in ("configured", "created"):
                return  # podman (Docker compat): a no-op for a container that never ran
            raise NetworkError(
                f'container {ctr.id} is already connected to network "{name}": network is already connected'
            )
        new_networks = list(current) + [name]
        cfg = dataclasses.replace(ctr.config)
        cfg.networks = new_networks
        if cfg.network_mode not in ("bridge", "private"):
            cfg.network_mode = "bridge"
        if aliases:
            cfg.network_aliases = {**(cfg.network_aliases or {}), name: list(aliases)}
        if ctr.state.net_ns and ctr.state.status in _LIVE:
            status = join_networks(
                rt.config,
                ctr.state.net_ns,
                ctr.id,
                ctr.config.name,
                {name: {"aliases": list(aliases or []), "ip": ip or ""}},
            )
            ctr.state.network_status = {**(ctr.state.network_status or {}), **status}
        ctr.config = cfg
        _save(rt, ctr, config_changed=True)


def disconnect(rt: Any, ctr: Any, net: str, force: bool = False) -> None:
    """Remove ``ctr`` from network ``net`` (torn down now when it is running)."""
    network = NetworkStore(rt.config).get(net) if net != DEFAULT_NETWORK else {"name": DEFAULT_NETWORK}
    name = network["name"]
    with rt.locks.lock(ctr.config.lock_id):
        if hasattr(ctr, "sync"):
            ctr.sync()
        current = container_networks(ctr.config)
        if name not in current:
            raise NetworkError(f"container {ctr.config.name} is not connected to network {name}")
        if ctr.state.net_ns and ctr.state.status in _LIVE:
            leave_networks(rt.config, ctr.id, [name], ctr.state.net_ns)
        status = dict(ctr.state.network_status or {})
        status.pop(name, None)
        ctr.state.network_status = status
        cfg = dataclasses.replace(ctr.config)
        cfg.networks = [n for n in current if n != name]
        if cfg.network_mode == name:
            cfg.network_mode = "bridge"
        if not cfg.networks:
            cfg.network_mode = "none"  # podman leaves the container with only loopback
        aliases = dict(cfg.network_aliases or {})
        aliases.pop(name, None)
        cfg.network_aliases = aliases
        ctr.config = cfg
        _save(rt, ctr, config_changed=True)


def reload(rt: Any, ctr: Any) -> dict[str, Any]:
    """Tear down and set up again every network of a running container (same IPs, MACs, ports)."""
    from pypod.errors import PypodError
    from pypod.libpod.network.lifecycle import read_record
    from pypod.libpod.network.netavark import Netavark

    with rt.locks.lock(ctr.config.lock_id):
        record = read_record(rt.config, ctr.id)
        netns = record.get("netns") or ctr.state.net_ns
        if not netns or not record.get("networks"):
            raise NetworkError(f"container {ctr.id[:12]} has no bridge networks to reload")
        netavark = Netavark(rt.config.tmpdir)
        status = dict(ctr.state.network_status or {})
        for name, entry in record["networks"].items():
            opts = dict(entry["options"])
            mac = (status.get(name) or {}).get("mac_address")
            if mac:  # keep the MAC the container already has
                opts["networks"] = {n: {**o, "static_mac": mac} for n, o in opts["networks"].items()}
            try:
                netavark.teardown_options(netns, opts)
            except PypodError:
                pass
            netavark.setup_options(netns, opts)
        return status
