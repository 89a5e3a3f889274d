"""What the container life cycle calls: set up / tear down a container's bridge networking.

Each container's netavark calls are recorded in ``<root>/netsetup/<ctr_id>.json`` *before*
netavark runs, so a teardown after a crash knows what to undo.  The records live under the
graph root, not the tmpfs tmpdir, so the refresh after a reboot (or a simulated one that keeps
bridges and firewall rules) can still undo them.  Every step is idempotent.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os

from pypod.errors import NetworkError, PypodError
from pypod.libpod.network.ipam import IPAM
from pypod.libpod.network.netavark import Netavark, check_ports, free_host_port
from pypod.libpod.network.netns import create_netns, is_netns, remove_netns
from pypod.libpod.network.store import DEFAULT_NETWORK, NetworkStore
from pypod.libpod.osutil import process_alive

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

NON_BRIDGE_MODES = ("none", "host", "slirp4netns", "pasta", "")


# --- which networks -----------------------------------------------------------
def container_networks(cfg: Any) -> list[str]:
    """Networks a container config joins ([] when it does not use bridge networking)."""
    mode = getattr(cfg, "network_mode", "") or ""
    if mode in NON_BRIDGE_MODES or mode.startswith(("container:", "ns:")):
        return []
    names: list[str] = []
    if mode not in ("bridge", "private", "default"):
        names.append(mode)  # --network NAME
    for name in getattr(cfg, "networks", None) or []:
        if name not in names:
            names.append(name)
    return names or [DEFAULT_NETWORK]


def normalize_ports(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One mapping per protocol, host port chosen when 0, host_port defaulting to container_port range."""
    result: list[dict[str, Any]] = []
    for pm in ports or []:
        for proto in str(pm.get("protocol") or "tcp").split(","):
            proto = proto.strip() or "tcp"
            host_ip = pm.get("host_ip") or ""
            host_port = int(pm.get("host_port") or 0)
            if not host_port:
                host_port = free_host_port(host_ip, proto)
            result.append(
                {
                    "host_ip": host_ip,
                    "container_port": int(pm["container_port"]),
                    "host_port": host_port,
                    "range": int(pm.get("range") or 1),
                    "protocol": proto,
                }
            )
    return result


# --- records ------------------------------------------------------------------
def records_dir(config: Any) -> str:
    return os.path.join(config.root, "netsetup")


def _record_path(config: Any, ctr_id: str) -> str:
    return os.path.join(records_dir(config), f"{ctr_id}.json")


def read_record(config: Any, ctr_id: str) -> dict[str, Any]:
    try:
        with open(_record_path(config, ctr_id), encoding="utf-8") as f:
            data = json.load(f)
            return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_record(config: Any, ctr_id: str, record: dict[str, Any]) -> None:
    path = _record_path(config, ctr_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.rename(tmp, path)


def _drop_record(config: Any, ctr_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_record_path(config, ctr_id))


# --- status -------------------------------------------------------------------
def _status_entry(
    network: dict[str, Any], interface: str, aliases: list[str], ports: list[dict[str, Any]], raw: dict[str, Any]
) -> dict[str, Any]:
    """One network's status: what /etc/hosts, resolv.conf and inspect need."""
    iface = (raw.get("interfaces") or {}).get(interface, {})
    subnets = iface.get("subnets") or []
    entry: dict[str, Any] = {
        "network_id": network["id"],
        "interface": interface,
        "ip_address": "",
        "prefix_len": 0,
        "gateway": "",
        "mac_address": iface.get("mac_address", ""),
        "aliases": aliases,
        "dns_server_ips": list(raw.get("dns_server_ips") or []),
        "dns_search_domains": list(raw.get("dns_search_domains") or []),
        "subnets": subnets,
        "port_mappings": ports,
    }
    for sub in subnets:
        ipnet = ipaddress.ip_interface(sub["ipnet"])
        if ipnet.version == 4 and not entry["ip_address"]:
            entry["ip_address"] = str(ipnet.ip)
            entry["prefix_len"] = ipnet.network.prefixlen
            entry["gateway"] = sub.get("gateway") or ""
    return entry


# --- join / leave (no Container object needed) ---------------------------------
def join_networks(
    config: Any,
    netns_path: str,
    ctr_id: str,
    ctr_name: str,
    requests: dict[str, dict[str, Any]],
    port_mappings: list[dict[str, Any]] | None = None,
    dns_servers: list[str] | None = None,
) -> dict[str, Any]:
    """Attach ``netns_path`` to each network of ``requests`` (name -> {aliases?, ip?, mac?}).

    Returns name -> status entry.  Port mappings go with the first network the container joins.
    A network that fails is rolled back and raises NetworkError; networks joined before stay.
    """
    store, ipam, netavark = NetworkStore(config), IPAM(config.tmpdir), Netavark(config.tmpdir)
    record = read_record(config, ctr_id) or {"netns": netns_path, "networks": {}}
    record["netns"] = netns_path
    ports = normalize_ports(port_mappings or [])
    if ports and not record["networks"]:
        check_ports(ports)
    status: dict[str, Any] = {}
    for name, want in requests.items():
        if name in record["networks"]:
            raise NetworkError(f"container {ctr_id[:12]} is already connected to network {name}")
        network = store.get(name)
        name = network["name"]
        used = {r["interface"] for r in record["networks"].values()}
        n = 0
        while f"eth{n}" in used:
            n += 1
        interface = want.get("interface_name") or f"eth{n}"
        my_ports = ports if not record["networks"] else []
        ip = ipam.allocate(network, ctr_id, want.get("ip") or None)
        aliases = list(want.get("aliases") or [])
        if network.get("dns_enabled") and ctr_id[:12] not in aliases:
            aliases.append(ctr_id[:12])
        opts = Netavark.options(
            ctr_id,
            ctr_name,
            {name: {"interface_name": interface, "ip": ip, "mac": want.get("mac"), "aliases": aliases}},
            {name: network},
            my_ports,
            dns_servers,
        )
        record["networks"][name] = {"interface": interface, "options": opts}
        _write_record(config, ctr_id, record)  # before netavark: a crash leaves something to undo
        try:
            raw = netavark.setup_options(netns_path, opts)
        except PypodError:
            with contextlib.suppress(PypodError):
                netavark.teardown_options(netns_path, opts)
            ipam.release(name, ctr_id)
            del record["networks"][name]
            _write_record(config, ctr_id, record)
            raise
        status[name] = _status_entry(network, interface, aliases, my_ports, raw.get(name, {}))
    return status


def leave_networks(config: Any, ctr_id: str, names: list[str] | None = None, netns_path: str = "") -> None:
    """Undo the netavark setup of ``names`` (all recorded networks when None) and free their leases.

    Tolerates networks that were only half set up and namespaces that are already gone.
    """
    ipam, netavark = IPAM(config.tmpdir), Netavark(config.tmpdir)
    record = read_record(config, ctr_id)
    recorded: dict[str, Any] = record.get("networks", {})
    netns = netns_path or record.get("netns", "")
    targets = list(recorded) if names is None else list(names)
    errors: list[str] = []
    for name in targets:
        entry = recorded.get(name)
        if entry and netns and is_netns(netns):  # an empty file (killed before its mount) is not one
            try:
                netavark.teardown_options(netns, entry["options"])
            except PypodError as exc:
                if not already_gone(str(exc)):  # tearing down what is already gone is no error (D8)
                    errors.append(str(exc))
        elif entry:
            # the namespace is gone (reboot, crash): remove host-side rules through a fresh one,
            # holding a stand-in interface of the same name for netavark to delete
            with contextlib.suppress(PypodError, OSError):
                scratch = create_netns(config.runroot, _scratch_netns_path(config.runroot))
                try:
                    _stand_in_interface(scratch, entry["interface"])
                    netavark.teardown_options(scratch, entry["options"])
                except PypodError:
                    pass
                finally:
                    remove_netns(scratch)
        ipam.release(name, ctr_id)
        recorded.pop(name, None)
    if names is None:
        for net_name in ipam.networks():  # leases without a record (crash between allocate and record)
            ipam.release(net_name, ctr_id)
        _drop_record(config, ctr_id)
    elif record:
        _write_record(config, ctr_id, record)
    if errors:
        raise NetworkError("; ".join(errors))


# what netavark says when the thing it should delete is not there (a crash undid it or never made it)
_GONE_MARKERS = ("no such device", "no such file or directory", "does not exist", "not found", "no such process")


def already_gone(message: str) -> bool:
    """True when every error of a netavark teardown is about something that does not exist."""
    text = message.lower()
    if "multiple errors:" in text:
        text = text.split("multiple errors:", 1)[1]
    parts = [p for p in text.split(";") if p.strip()]
    return bool(parts) and all(any(m in p for m in _GONE_MARKERS) for p in parts)


def _scratch_netns_path(runroot: str) -> str:
    """A namespace path for a short-lived teardown helper, naming its owner's pid."""
    from pypod.libpod.network.netns import netns_dir

    return os.path.join(netns_dir(runroot), f"scratch-{os.getpid()}-{os.urandom(6).hex()}")


def remove_stale_netns(config: Any, keep: set[str]) -> list[str]:
    """Unmount and delete namespace files under ``<runroot>/netns`` except ``keep`` and the
    scratch namespaces of live processes; returns the removed paths."""
    from pypod.libpod.network.netns import netns_dir

    directory = netns_dir(config.runroot)
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for name in names:
        path = os.path.join(directory, name)
        if path in keep:
            continue
        if name.startswith("scratch-"):
            pid = name.split("-")[1]
            if not pid.isdecimal() or process_alive(int(pid)):
                continue
        with contextlib.suppress(PypodError, OSError):
            remove_netns(path)
            removed.append(path)
    return removed


def remove_stale_network_state(rt: Any) -> list[str]:
    """Undo the network set-up of containers that no longer exist (a killed ``run --rm``,
    ``restart`` or ``rm`` can leave a setup record and a mounted namespace, D16): leave their
    networks, drop their records, remove namespace files no live container refers to.
    Returns the removed namespace paths.  Best effort: errors keep things for the next call."""
    import re

    config = rt.config
    from pypod.libpod.network.netns import netns_dir

    directory = netns_dir(config.runroot)
    # order matters: namespaces listed first, then records and rows (a set-up writes its record,
    # after its DB row, before it creates the namespace), so every live namespace is accounted for
    try:
        present = os.listdir(directory)
    except FileNotFoundError:
        present = []
    try:
        records = [e[: -len(".json")] for e in os.listdir(records_dir(config)) if e.endswith(".json")]
    except FileNotFoundError:
        records = []
    if not present and not records:
        return []
    try:
        rows = rt.db._read("SELECT id, state FROM containers")
    except (PypodError, AttributeError):
        return []
    live = {row[0] for row in rows}
    keep: set[str] = set()
    pattern = re.compile(re.escape(directory + os.sep) + r"[A-Za-z0-9-]+")
    for _id, state_text in rows:
        keep.update(pattern.findall(str(state_text)))
    for ctr_id in records:
        record = read_record(config, ctr_id)
        if ctr_id in live:
            if record.get("netns"):
                keep.add(record["netns"])
            continue
        with contextlib.suppress(PypodError, OSError):
            leave_networks(config, ctr_id, None, record.get("netns", ""))
        _drop_record(config, ctr_id)
    if not present:
        return []
    return remove_stale_netns(config, keep)


def _stand_in_interface(netns_path: str, name: str) -> None:
    """A veth link called ``name`` inside ``netns_path`` (best effort; the dummy driver may be absent)."""
    import shutil
    import subprocess

    ip, nsenter = shutil.which("ip"), shutil.which("nsenter")
    if ip and nsenter:
        subprocess.run(
            [nsenter, f"--net={netns_path}", ip, "link", "add", name, "type", "veth", "peer", "name", "pypodstandin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False,
        )  # fmt: skip


# --- container entry points -----------------------------------------------------
def setup_container_network(rt: Any, ctr: Any) -> tuple[str, dict[str, Any]]:
    """Create the container's netns and join its networks; returns (netns_path, status).

    ("", {}) for containers without bridge networking (none, host, container:, ns:).
    Caller holds the container lock, stores the result in ``ctr.state.net_ns`` /
    ``ctr.state.network_status`` and uses netns_path as the spec's network namespace path.
    """
    cfg = ctr.config
    names = container_networks(cfg)
    if not names:
        return "", {}
    config = rt.config
    requests: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        requests[name] = {
            "aliases": list((getattr(cfg, "network_aliases", None) or {}).get(name, [])),
            "ip": getattr(cfg, "static_ip", "") if i == 0 else "",
            "mac": getattr(cfg, "static_mac", "") if i == 0 else "",
        }
    # leftovers of an earlier run of this container (crash): undo them first, best effort
    # (what a crash already removed is no reason not to start, D8)
    if read_record(config, cfg.id):
        with contextlib.suppress(PypodError, OSError):
            teardown_container_network(rt, ctr)
    from pypod.libpod.network.netns import new_netns_path

    netns_path = new_netns_path(config.runroot)
    # recorded before it exists: a crash from here on leaves a record the next set-up or rm undoes
    _write_record(config, cfg.id, {"netns": netns_path, "networks": {}})
    netns_path = create_netns(config.runroot, netns_path)
    try:
        try:
            status = join_networks(
                config, netns_path, cfg.id, cfg.name, requests, getattr(cfg, "ports", None) or [],
                None,
            )
        except NetworkError as exc:
            if "no free addresses" not in str(exc):
                raise
            IPAM(config.tmpdir).reconcile(_live_ids(rt))
            status = join_networks(
                config, netns_path, cfg.id, cfg.name, requests, getattr(cfg, "ports", None) or [], None
            )
    except BaseException:
        with contextlib.suppress(PypodError, OSError):
            leave_networks(config, cfg.id, None, netns_path)
        with contextlib.suppress(PypodError, OSError):
            remove_netns(netns_path)
        raise
    return netns_path, status


def teardown_container_network(rt: Any, ctr: Any) -> None:
    """Leave every network, free the addresses, remove the netns; safe to call twice or after a crash."""
    config = rt.config
    ctr_id = ctr.config.id
    record = read_record(config, ctr_id)
    netns_path = record.get("netns") or getattr(ctr.state, "net_ns", "") or ""
    error: PypodError | None = None
    try:
        leave_networks(config, ctr_id, None, netns_path)
    except PypodError as exc:
        error = exc
    for path in {netns_path, getattr(ctr.state, "net_ns", "") or ""}:
        if path and os.path.dirname(path) == os.path.join(config.runroot, "netns"):
            remove_netns(path)
    if error is not None:
        raise error


def _live_ids(rt: Any) -> list[str]:
    return [c.id for c in rt.list_containers()]


def etc_files_info(status: dict[str, Any]) -> dict[str, Any]:
    """From a network status: own IPs (for /etc/hosts), the first gateway (host.containers.internal),
    aardvark's DNS servers and search domains (for resolv.conf)."""
    ips = [s["ip_address"] for s in status.values() if s.get("ip_address")]
    gateway = next((s["gateway"] for s in status.values() if s.get("gateway")), "")
    servers = list(dict.fromkeys(ip for s in status.values() for ip in s.get("dns_server_ips") or []))
    search = list(dict.fromkeys(d for s in status.values() for d in s.get("dns_search_domains") or []))
    return {"ips": ips, "gateway": gateway, "dns_servers": servers, "dns_search": search}


# --- after a reboot --------------------------------------------------------------------
def _stop_stale_aardvark(config: Any) -> None:
    """Kill aardvark-dns processes of this tmpdir's netavark config left by an earlier boot.

    After a real reboot there are none; after a simulated one (tmpdir wiped, processes kept)
    they would hold port 53 on the bridge gateways with a config directory that is gone.
    """
    import signal

    marker = os.path.join(config.tmpdir, "netavark").encode()
    for entry in os.listdir("/proc"):
        if not entry.isdecimal():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"aardvark-dns" and any(a.startswith(marker) for a in argv):
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGKILL)


def teardown_after_reboot(config: Any, live_ids: list[str]) -> None:
    """Refresh: undo every recorded setup of the earlier boot, free leases of vanished containers.

    The namespaces are gone with the old boot; bridges, firewall rules and port forwards may
    not be (simulated reboots), so each record is torn down through a scratch namespace.
    """
    try:
        records = [e[: -len(".json")] for e in os.listdir(records_dir(config)) if e.endswith(".json")]
    except FileNotFoundError:
        records = []
    if records:
        _stop_stale_aardvark(config)
    for ctr_id in records:
        with contextlib.suppress(PypodError, OSError):
            leave_networks(config, ctr_id, None, "")
        _drop_record(config, ctr_id)
    # namespaces of the earlier boot (left mounted when the run root survived): none is in use
    remove_stale_netns(config, set())
    IPAM(config.tmpdir).reconcile(live_ids)
