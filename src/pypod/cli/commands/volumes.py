"""`pypod volume create|ls|inspect|rm|prune|exists`."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any
    from pypod.cli.main import Context

HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Mountpoint": "MOUNTPOINT", "CreatedAt": "CREATED AT"}


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from pypod.errors import InvalidArgument

    out: dict[str, str] = {}
    for item in items:
        key, _eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}")
        out[key] = value
    return out


def _go_empty_maps(text: str) -> str:
    """Print empty maps as podman's ``ls --format json`` does: ``{``, an indented blank line, ``}``."""
    import re

    return re.sub(r'(?m)^( *)(".*": )\{\}(,?)$', lambda m: f"{m[1]}{m[2]}{{\n{m[1]}  \n{m[1]}}}{m[3]}", text)


def _json(data: Any, indent: int = 2) -> str:
    import json

    return json.dumps(data, indent=indent) + "\n"


# --- create ------------------------------------------------------------------------
def create_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", default=None)
    p.add_argument("-d", "--driver", default="local")
    p.add_argument("-l", "--label", action="append", default=[])
    p.add_argument("-o", "--opt", action="append", default=[])
    p.add_argument("--ignore", action="store_true", help="don't fail if volume already exists")


def create_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    vol = ctx.runtime.volumes.create(
        args.name, driver=args.driver, labels=_pairs(args.label, "label"), options=_pairs(args.opt, "option"),
        ignore_existing=args.ignore,
    )
    print(vol.name)
    return 0


# --- ls ----------------------------------------------------------------------------
def ls_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format", default="")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-n", "--noheading", action="store_true")


def ls_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    vols = sorted(ctx.runtime.volumes.list(args.filter or None), key=lambda v: v.name)
    out = sys.stdout
    if args.quiet:
        out.write("".join(v.name + "\n" for v in vols))
        return 0
    if args.format == "json":
        out.write(_go_empty_maps(_json([v.inspect() for v in vols])) if vols else "[]\n")
        return 0
    if not vols:  # podman prints nothing at all, not even the heading
        return 0
    from pypod.cli import gotemplate

    fmt = args.format or "table {{.Driver}}\t{{.Name}}"
    out.write(gotemplate.render_rows(fmt, [v.inspect() for v in vols], HEADERS, name="list",
                                     header=not args.noheading))
    return 0


# --- inspect -----------------------------------------------------------------------
def inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--format", default="json")


def inspect_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    from pypod.errors import InvalidArgument, NoSuchVolume

    store = ctx.runtime.volumes
    if args.all and args.names:
        raise InvalidArgument("--all and naming volumes cannot be used together")
    if not args.all and not args.names:
        raise InvalidArgument("provide one or more volume names or use --all")
    docs = []
    missing = []
    vols = store.list() if args.all else []
    for name in args.names:
        try:
            vols.append(store.get(name))
        except NoSuchVolume:
            missing.append(name)
    docs = [v.inspect() for v in vols]
    if args.format in ("json", ""):
        sys.stdout.write(_json(docs, indent=5) if docs else "[]\n")
    else:
        from pypod.cli import gotemplate

        sys.stdout.write(gotemplate.render_rows(args.format, docs, HEADERS, name="inspect"))
    if missing:
        # podman: the later misses as plain lines, the first one as the error
        for name in missing[1:]:
            print(f"error inspecting object: no such volume {name}", file=sys.stderr)
        raise NoSuchVolume(f"inspecting object: no such volume {missing[0]}")
    return 0


# --- rm ------------------------------------------------------------------------------
def rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-t", "--time", type=int, default=None)


def rm_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    from pypod.errors import InUse, InvalidArgument, NoSuchVolume, PypodError

    store = ctx.runtime.volumes
    if args.all == bool(args.names):
        raise InvalidArgument("choose either one or more volumes or all")
    names = [v.name for v in store.list()] if args.all else args.names
    errors: list[PypodError] = []
    code = 125
    found: list[str] = []
    for name in names:  # like podman: look every name up first, then remove
        try:
            found.append(store.get(name).name)
        except NoSuchVolume as exc:
            if not args.force:  # podman: -f ignores missing volumes
                errors.append(exc)
                code = 1
        except PypodError as exc:
            errors.append(exc)
    for real in found:
        try:
            store.remove(real, force=args.force, timeout=args.time)
            print(real)
        except NoSuchVolume:
            continue  # removed meanwhile (with a container of an earlier volume)
        except InUse as exc:
            errors.append(exc)
            code = 2
        except PypodError as exc:
            errors.append(exc)
    for exc in errors:
        print(f"Error: {exc}", file=sys.stderr)
    return code if errors else 0


# --- prune ---------------------------------------------------------------------------
def prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])


def prune_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    if not args.force:
        sys.stdout.write(
            "WARNING! This will remove all volumes not used by at least one container. "
            "The following volumes will be removed:\n"
        )
        store = ctx.runtime.volumes
        used = set()
        for vol in store.list(args.filter or None):
            if store.users(vol.name):
                used.add(vol.name)
            else:
                sys.stdout.write(vol.name + "\n")
        sys.stdout.write("Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    for name in ctx.runtime.volumes.prune(args.filter or None):
        print(name)
    return 0


# --- exists --------------------------------------------------------------------------
def exists_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")


def exists_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    return 0 if ctx.runtime.volumes.exists(args.name) else 1
