"""The files pypod generates for a container: /etc/hosts, resolv.conf, hostname, .containerenv."""

from __future__ import annotations

import os

from pypod.errors import InvalidArgument
from pypod.libpod.osutil import write_atomic

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterable

DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
_IPV6_LOOPBACK = bytes(15) + b"\x01"


def _write(path: str, text: str) -> None:
    write_atomic(path, text, mode=0o644)


def hosts_text(
    *,
    hostname: str,
    name: str,
    ips: Iterable[str] = (),
    add_hosts: Iterable[str] = (),
    host_gateway: str = "",
    base_file: str = "",
    own_names: bool = True,
) -> str:
    """/etc/hosts as podman 4 writes it: --add-host entries, the base file, then localhost,
    host.containers.internal and the container's own names, each only when its name is not
    already present (loopback 127.0.0.1 for the own names when the container has no address)."""
    entries: list[tuple[str, list[str]]] = []
    for entry in add_hosts:
        host, sep, ip = entry.partition(":")
        if not sep or not host or not ip:
            raise InvalidArgument(f"invalid format for --add-host {entry!r}: expected HOST:IP")
        if ip == "host-gateway":
            if not host_gateway:
                raise InvalidArgument("host-gateway is not available for this container")
            ip = host_gateway
        entries.append((ip, [host]))
    if base_file:
        try:
            with open(base_file, encoding="utf-8", errors="replace") as fh:
                for raw in fh:
                    fields = raw.split("#", 1)[0].split()
                    if len(fields) > 1:
                        entries.append((fields[0], fields[1:]))
        except OSError:
            pass
    seen = {n for _ip, names in entries for n in names}
    special: list[tuple[str, list[str]]] = [("127.0.0.1", ["localhost"]), ("::1", ["localhost"])]
    if host_gateway:
        special.append((host_gateway, ["host.containers.internal"]))
    if own_names:
        names = list(dict.fromkeys(n for n in (hostname, name) if n))
        special += [(ip, names) for ip in (list(ips) or ["127.0.0.1"])]
    for ip, names in special:
        wanted = [n for n in names if n not in seen]
        if wanted:
            entries.append((ip, wanted))
    return "".join(f"{ip}\t{' '.join(names)}\n" for ip, names in entries)


def host_local_ip() -> str:
    """The host's first global IPv4 address (podman's host.containers.internal without a bridge)."""
    import _socket  # the C module: socket.py's enums are not needed for one UDP socket

    try:
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    except OSError:
        return ""
    try:
        sock.connect(("203.0.113.1", 9))  # UDP: nothing is sent, the route picks the source
        address = str(sock.getsockname()[0])
    except OSError:
        return ""
    finally:
        sock.close()
    return "" if address.startswith("127.") else address


def write_hosts(path: str, **kwargs: object) -> None:
    """Write /etc/hosts for a container (see `hosts_text` for the arguments)."""
    _write(path, hosts_text(**kwargs))  # type: ignore[arg-type]


def _is_loopback(server: str) -> bool:
    """`ipaddress.ip_address(server).is_loopback` (127.0.0.0/8, ::1), without importing ipaddress."""
    import _socket

    address = server.split("%")[0]
    try:
        return _socket.inet_pton(_socket.AF_INET, address)[0] == 127
    except OSError:
        pass
    try:
        return _socket.inet_pton(_socket.AF_INET6, address) == _IPV6_LOOPBACK
    except OSError:
        return False


def resolv_conf_text(
    *,
    servers: Iterable[str] = (),
    search: Iterable[str] = (),
    options: Iterable[str] = (),
    host_file: str = "/etc/resolv.conf",
    network_servers: Iterable[str] = (),
) -> str:
    """resolv.conf: the host's, minus loopback servers, with --dns/--dns-search/--dns-option applied."""
    host_servers: list[str] = []
    host_search: list[str] = []
    host_options: list[str] = []
    try:
        with open(host_file, encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                fields = raw.split("#", 1)[0].split()
                if not fields:
                    continue
                if fields[0] == "nameserver" and len(fields) > 1:
                    host_servers.append(fields[1])
                elif fields[0] in ("search", "domain"):
                    host_search = fields[1:]
                elif fields[0] == "options":
                    host_options.extend(fields[1:])
    except OSError:
        pass
    servers = list(servers)
    if servers:
        import ipaddress

        for s in servers:
            try:
                ipaddress.ip_address(s)
            except ValueError as exc:
                raise InvalidArgument(f"{s} is not an ip address") from exc
        final_servers = servers
    else:
        final_servers = list(network_servers) + [s for s in host_servers if not _is_loopback(s)]
        if not final_servers:
            final_servers = list(DEFAULT_NAMESERVERS)
    search = list(search)
    final_search = ([] if search == ["."] else search) if search else host_search
    final_options = list(options) if list(options) else host_options
    out: list[str] = []
    if final_search:
        out.append("search " + " ".join(final_search))
    out += [f"nameserver {s}" for s in final_servers]
    if final_options:
        out.append("options " + " ".join(final_options))
    return "\n".join(out) + "\n"


def write_resolv_conf(path: str, **kwargs: object) -> None:
    _write(path, resolv_conf_text(**kwargs))  # type: ignore[arg-type]


def write_hostname(path: str, hostname: str) -> None:
    _write(path, hostname + "\n")


def containerenv_text(
    *, privileged: bool, name: str, ctr_id: str, image: str, image_id: str, engine: str = "pypod"
) -> str:
    """/run/.containerenv: empty, unless privileged (then engine, name, id, image, imageid, rootless)."""
    if not privileged:
        return ""
    rootless = 1 if os.geteuid() != 0 else 0
    return (
        f'engine="{engine}"\nname="{name}"\nid="{ctr_id}"\n'
        f'image="{image}"\nimageid="{image_id}"\nrootless={rootless}\n'
    )


def write_containerenv(path: str, **kwargs: object) -> None:
    _write(path, containerenv_text(**kwargs))  # type: ignore[arg-type]
