"""`pypod inspect` (containers, images, volumes, pods, networks) and `pypod container inspect`."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable
    import argparse

    from pypod.cli.main import Context

TYPES = ("auto", "container", "image", "volume", "pod", "network", "all")


def _common(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-f", "--format", default="json")
    parser.add_argument("-s", "--size", action="store_true")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("names", nargs="*", metavar="NAME")


def inspect_args(parser: "argparse.ArgumentParser") -> None:
    _common(parser)
    parser.add_argument("-t", "--type", default="auto")


def container_inspect_args(parser: "argparse.ArgumentParser") -> None:
    _common(parser)


def _to_plain(obj: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj


def _container(rt: Any, name: str, size: bool) -> dict[str, Any]:
    from pypod.libpod.container.inspect import inspect_container

    ctr = rt.get_container(name)
    ctr.sync()
    return inspect_container(rt, ctr, size=size)


def _image(rt: Any, name: str, _size: bool) -> dict[str, Any]:
    from pypod.cli.commands.images import go_times
    from pypod.libpod.imageops import inspect_image

    return go_times(inspect_image(rt.images.resolve(name), rt.store))


def _volume(rt: Any, name: str, _size: bool) -> Any:
    vol = rt.volumes.get(name)
    return vol.inspect() if hasattr(vol, "inspect") else _to_plain(vol)


def _pod(rt: Any, name: str, _size: bool) -> Any:
    from pypod.errors import NoSuchPod

    getter = getattr(rt, "get_pod", None)
    if getter is None:
        raise NoSuchPod(f'no pod with name or ID "{name}" found: no such pod')
    pod = getter(name)
    if hasattr(pod, "inspect"):
        return pod.inspect()
    from pypod.libpod import podinspect  # type: ignore[attr-defined]

    return podinspect.inspect_pod(rt, pod)


def _network(rt: Any, name: str, _size: bool) -> Any:
    from pypod.errors import NoSuchNetwork

    nets = getattr(rt, "networks", None)
    if nets is None:
        raise NoSuchNetwork(f"unable to find network with name or ID {name}: network not found")
    net = nets.get(name)
    return net.inspect() if hasattr(net, "inspect") else _to_plain(net)


LOOKUPS: dict[str, Callable[[Any, str, bool], Any]] = {
    "container": _container, "image": _image, "volume": _volume, "pod": _pod, "network": _network,
}  # fmt: skip


def _plain(value: Any) -> Any:
    """Go's nil maps (``go_kind == "nilmap"``) become null; everything else is kept."""
    if isinstance(value, dict):
        if getattr(type(value), "go_kind", "") == "nilmap":
            return None
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def go_json(value: Any, indent: int | None = 5) -> str:
    """JSON as podman prints it: Go's HTML-safe escapes of <, > and &; inspect indents by 5."""
    import json

    text = json.dumps(_plain(value), indent=indent, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escaped)
    return text


def _print(items: list[Any], fmt: str) -> None:
    if fmt in ("", "json", "{{json .}}"):
        print(go_json(items))
        return
    from pypod.cli import gotemplate

    if gotemplate.is_table(fmt):
        out = gotemplate.render_rows(fmt, items, None)
        sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
        return
    for item in items:
        try:
            text = gotemplate.render(fmt, item, "inspect", gotemplate.RANGE_OFFSET)
        except gotemplate.TemplateError as exc:
            if "executing" not in str(exc):
                raise
            # podman's wording for a template that fails while printing
            raise gotemplate.TemplateError(f"inspecting object: printing inspect output: {exc}") from None
        print(text)


def _latest(rt: Any) -> str:
    from pypod.errors import NoSuchContainer

    ctrs = rt.list_containers()
    if not ctrs:
        raise NoSuchContainer("no containers to inspect: no such container")
    return max(ctrs, key=lambda c: c.config.created).id


def _run(args: "argparse.Namespace", ctx: "Context", kind: str) -> int:
    from pypod.cli.main import UsageError
    from pypod.errors import AmbiguousName, InvalidArgument, NotFound, PypodError

    if kind not in TYPES:
        raise InvalidArgument(f'invalid type "{kind}": must be "image", "container", "pod", "network", "volume", or "all"')
    rt = ctx.runtime
    names = list(args.names)
    if args.latest:
        if names:
            raise UsageError("--latest and containers cannot be used together")
        names = [_latest(rt)]
        kind = "container" if kind in ("auto", "all") else kind
    if not names:
        raise UsageError("no names or ids specified")
    found: list[Any] = []
    errors: list[str] = []
    for name in names:
        kinds = [kind] if kind not in ("auto", "all") else ["container", "image", "volume", "pod", "network"]
        data = None
        for k in kinds:
            try:
                data = LOOKUPS[k](rt, name, args.size)
                break
            except AmbiguousName:
                raise
            except (NotFound, AttributeError):
                continue
            except PypodError:
                if len(kinds) == 1:
                    raise
                continue
        if data is None:
            if ctx.command == "container inspect" or kind == "container":
                errors.append(f"no such container {name}")
            elif kind in ("auto", "all"):
                errors.append(f'no such object: "{name}"')
            else:
                errors.append(f"no such {kind} {name}")
            continue
        found.append(data)
    if found or not errors or args.format in ("", "json", "{{json .}}"):
        _print(found, args.format)  # podman prints "[]" even when nothing was found
    for err in errors[:-1]:
        print(f"Error: {err}", file=sys.stderr)
    if errors:
        print(f"Error: inspecting object: {errors[-1]}", file=sys.stderr)
        return 125
    return 0


def inspect_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    return _run(args, ctx, args.type)


def container_inspect_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    return _run(args, ctx, "container")
