"""`pypod network create|ls|inspect|rm|prune|exists|connect|disconnect|reload`."""

from __future__ import annotations

import re
import sys

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any
    import argparse

    from pypod.cli.main import Context

LS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}"
HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Labels": "LABELS", "Options": "OPTIONS",
           "IPv6": "IPV6", "Internal": "INTERNAL", "DNSEnabled": "DNSENABLED", "Created": "CREATED",
           "NetworkInterface": "NETWORKINTERFACE", "Subnets": "SUBNETS"}  # fmt: skip


def _store(ctx: "Context") -> Any:
    from pypod.libpod.network.store import NetworkStore

    return NetworkStore(ctx.runtime.config)


def _key_values(items: list[str], what: str) -> dict[str, str]:
    from pypod.errors import InvalidArgument

    result: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}: must be key=value")
        result[key] = value
    return result


def _users(ctx: "Context", name: str) -> list[Any]:
    """Containers configured to use network ``name``."""
    from pypod.libpod.network.lifecycle import container_networks

    return [c for c in ctx.runtime.list_containers() if name in container_networks(c.config)]


class _Row:
    """A network as the ``--format`` templates see it (podman's field names)."""

    def __init__(self, net: dict[str, Any], trunc: bool) -> None:
        self.Name = net["name"]
        self.ID = net["id"][:12] if trunc else net["id"]
        self.Driver = net["driver"]
        self.NetworkInterface = net.get("network_interface", "")
        self.Created = net.get("created", "")
        self.Subnets = net.get("subnets", [])
        self.IPv6 = bool(net.get("ipv6_enabled"))
        self.Internal = bool(net.get("internal"))
        self.DNSEnabled = bool(net.get("dns_enabled"))
        self.Labels = ",".join(f"{k}={v}" for k, v in (net.get("labels") or {}).items())
        self.Options = net.get("options") or {}
        self.IPAMOptions = net.get("ipam_options") or {}


def _render(fmt: str, rows: list[_Row], header: bool = True) -> str:
    from pypod.cli import gotemplate

    return gotemplate.render_rows(fmt, rows, HEADERS, header=header).rstrip("\n")


def _inspect_view(net: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "id", "driver", "network_interface", "created", "subnets", "ipv6_enabled", "internal",
            "dns_enabled", "labels", "options", "ipam_options")  # fmt: skip
    view = {k: net[k] for k in keys if k in net}
    for key in ("labels", "options"):  # podman's JSON has map keys sorted
        if isinstance(view.get(key), dict):
            view[key] = dict(sorted(view[key].items()))
    view.setdefault("ipam_options", {"driver": "host-local"})
    return view


# --- create -----------------------------------------------------------------------
def create_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("name", nargs="?")
    p.add_argument("-d", "--driver", default="bridge")
    p.add_argument("--subnet", action="append", default=[])
    p.add_argument("--gateway", action="append", default=[])
    p.add_argument("--ip-range", action="append", default=[])
    p.add_argument("--internal", action="store_true")
    p.add_argument("--disable-dns", action="store_true")
    p.add_argument("-l", "--label", action="append", default=[])
    p.add_argument("-o", "--opt", action="append", default=[])
    p.add_argument("--interface-name", default=None)
    p.add_argument("--ipv6", action="store_true")
    p.add_argument("--ignore", action="store_true")


def create_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import AlreadyExists, InvalidArgument

    if args.ipv6:
        raise InvalidArgument("pypod does not support IPv6 networks yet: invalid argument")
    if len(args.subnet) > 1:
        raise InvalidArgument("pypod supports one subnet per network: invalid argument")
    store = _store(ctx)
    if args.ignore and args.name and store.exists(args.name):
        print(args.name)
        return 0
    try:
        net = store.create(
            name=args.name,
            subnet=args.subnet[0] if args.subnet else None,
            gateway=args.gateway[0] if args.gateway else None,
            ip_range=args.ip_range[0] if args.ip_range else None,
            internal=args.internal,
            disable_dns=args.disable_dns,
            labels=_key_values(args.label, "label"),
            options=_key_values(args.opt, "option"),
            driver=args.driver,
            interface_name=args.interface_name,
        )
    except AlreadyExists:
        if args.ignore:
            print(args.name)
            return 0
        raise
    print(net["name"])
    return 0


# --- ls -----------------------------------------------------------------------------
def ls_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default=None)
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-n", "--noheading", action="store_true")


def _matches(net: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "name":
            ok = any(re.search(v, net["name"]) for v in values)
        elif key == "id":
            ok = any(net["id"].startswith(v) for v in values)
        elif key == "driver":
            ok = net["driver"] in values
        elif key == "label":
            labels = net.get("labels") or {}
            ok = all(
                (k in labels and (not eq or labels[k] == v))
                for k, eq, v in (val.partition("=") for val in values)
            )
        elif key == "label!":
            labels = net.get("labels") or {}
            ok = not any(
                (k in labels and (not eq or labels[k] == v)) for k, eq, v in (val.partition("=") for val in values)
            )
        else:
            from pypod.errors import InvalidArgument

            raise InvalidArgument(f'invalid filter "{key}"')
        if not ok:
            return False
    return True


def _parse_filters(items: list[str]) -> dict[str, list[str]]:
    from pypod.errors import InvalidArgument

    filters: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f'invalid filter "{item}", should be of the form key=value')
        filters.setdefault(key, []).append(value)
    return filters


def ls_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    filters = _parse_filters(args.filter)
    nets = [n for n in _store(ctx).list() if _matches(n, filters)]
    if args.quiet:
        for n in nets:
            print(n["name"])
        return 0
    if args.format in ("json", "{{json .}}"):
        import json

        print(json.dumps([_inspect_view(n) for n in nets], indent=2))
        return 0
    rows = [_Row(n, trunc=not args.no_trunc) for n in nets]
    out = _render(args.format or LS_FORMAT, rows, header=not args.noheading)
    if out:
        print(out)
    return 0


# --- inspect ------------------------------------------------------------------------
def inspect_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("networks", nargs="+")
    p.add_argument("-f", "--format", default=None)


def inspect_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    import json

    from pypod.errors import NotFound

    store = _store(ctx)
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in args.networks:
        try:
            found.append(_inspect_view(store.get(name)))
        except NotFound as exc:
            errors.append(f"network {name}: {exc}")
    if args.format and args.format != "json":
        for net in found:
            print(_render(args.format, [_Row(net, trunc=False)]))
    else:
        print(json.dumps(found, indent=5))
    if errors:
        # podman: the later misses as plain lines, the first one as the error
        for msg in errors[1:]:
            print(f"error inspecting object: {msg}", file=sys.stderr)
        from pypod.errors import NoSuchNetwork

        raise NoSuchNetwork(f"inspecting object: {errors[0]}")
    return 0


# --- rm / prune / exists ------------------------------------------------------------
def rm_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("networks", nargs="+")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-t", "--time", type=int, default=None)


def remove_network(ctx: "Context", name_or_id: str, force: bool, timeout: int | None = None) -> str:
    """Remove one network (and with ``force`` the containers using it); returns its name."""
    from pypod.errors import InUse
    from pypod.libpod.network.ipam import IPAM

    store = _store(ctx)
    net = store.get(name_or_id)
    users = _users(ctx, net["name"])
    if users and not force:  # podman names the users first, even for the default network
        raise InUse(
            f'"{net["name"]}" has associated containers with it. Use -f to forcibly delete containers and pods: '
            "network is being used"
        )
    if net["name"] == "podman":
        store.remove(net["name"])  # raises the "cannot be removed" error
    for ctr in users:
        ctx.runtime.remove_container(ctr, force=True, timeout=timeout)
    store.remove(net["name"])
    IPAM(ctx.runtime.config.tmpdir).drop_network(net["name"])
    return str(net["name"])


def rm_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import PypodError

    last: PypodError | None = None
    for name in args.networks:
        try:
            print(remove_network(ctx, name, args.force, args.time))
        except PypodError as exc:
            if last is not None:
                print(f"Error: {last}", file=sys.stderr)
            last = exc
    if last is not None:
        from pypod.errors import InUse, NoSuchNetwork

        if isinstance(last, NoSuchNetwork):
            last.exit_code = 1  # podman: 1 for an unknown network, 2 for one in use
        elif isinstance(last, InUse):
            last.exit_code = 2
        raise last
    return 0


def prune_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])


def prune_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.libpod.network.lifecycle import container_networks

    filters = _parse_filters(args.filter)
    if not args.force:
        sys.stdout.write("WARNING! This will remove all networks not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")  # fmt: skip
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    used = {n for c in ctx.runtime.list_containers() for n in container_networks(c.config)}
    for net in _store(ctx).list():
        if net["name"] == "podman" or net["name"] in used or not _matches(net, filters):
            continue
        print(remove_network(ctx, net["name"], force=False))
    return 0


def exists_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("network")


def exists_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    return 0 if _store(ctx).exists(args.network) else 1


# --- connect / disconnect / reload ----------------------------------------------------
def connect_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument("--alias", action="append", default=[])
    p.add_argument("--ip", default=None)
    p.add_argument("--ip6", default=None)
    p.add_argument("--mac-address", default=None)


def connect_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.libpod.network.attach import connect

    rt = ctx.runtime
    connect(rt, rt.get_container(args.container), args.network, args.alias, args.ip)
    return 0


def disconnect_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument("-f", "--force", action="store_true")


def disconnect_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.libpod.network.attach import disconnect

    rt = ctx.runtime
    disconnect(rt, rt.get_container(args.container), args.network, args.force)
    return 0


def reload_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("containers", nargs="*")
    p.add_argument("-a", "--all", action="store_true")


def reload_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    """Re-run netavark setup for running containers (restores firewall rules after a flush)."""
    from pypod.errors import InvalidArgument
    from pypod.libpod.network.attach import reload

    rt = ctx.runtime
    if args.all:
        ctrs = [c for c in rt.list_containers() if c.state.status == "running"]
    elif args.containers:
        ctrs = [rt.get_container(n) for n in args.containers]
    else:
        raise InvalidArgument("no arguments are needed with --all; give containers or --all")
    for ctr in ctrs:
        reload(rt, ctr)
        print(ctr.id)
    return 0
