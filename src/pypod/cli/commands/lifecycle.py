"""start, stop, kill, pause, unpause, restart, rm, wait, rename, init, container cleanup/exists/prune.

Commands on several containers go on past an error: each error is printed as ``Error: ...``
and the exit code of the last one is returned at the end, like podman.
"""

from __future__ import annotations

import sys

from pypod.cli.common import print_error as _error, parse_stop_timeout as _timeout

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Iterable

    import argparse

    from pypod.cli.main import Context

RUNNING = ("running",)
ACTIVE = ("running", "paused")


def _read_cidfiles(paths: list[str]) -> list[str]:
    from pypod.errors import InvalidArgument

    ids = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                ids.append(f.read().strip())
        except OSError as exc:
            raise InvalidArgument(f"reading CIDFile: open {path}: {(exc.strerror or str(exc)).lower()}") from None
    return ids


def _targets(ctx: "Context", args: "argparse.Namespace", states: Iterable[str] | None) -> list[tuple[str, Any]]:
    """(label to print, container) pairs: the names given, or every container with --all/--latest."""
    rt = ctx.runtime
    if getattr(args, "all", False) or getattr(args, "latest", False):
        ctrs = rt.list_containers()
        if states is not None:
            allowed = set(states)
            ctrs = [c for c in ctrs if c.state.status in allowed]
        if getattr(args, "latest", False):
            ctrs = sorted(ctrs, key=lambda c: c.config.created)[-1:]
        return [(c.id, c) for c in ctrs]
    return [(name, None) for name in args.names]


def _check_names(args: "argparse.Namespace", what: str = "", missing: str = "you must provide at least one name or id") -> None:
    from pypod.cli.main import UsageError

    if getattr(args, "all", False) or getattr(args, "latest", False):
        if args.names:
            raise UsageError("--all, --latest and containers cannot be used together" if not what else what)
        return
    if not args.names:
        raise UsageError(missing)  # podman's wording differs per command


def _each(
    ctx: "Context",
    targets: list[tuple[str, Any]],
    action: Callable[[Any], object],
    *,
    ignore_missing: bool = False,
    quiet: bool = False,
) -> int:
    """Run ``action`` on each container; print the label or an error; return the exit code."""
    from pypod.errors import NoSuchContainer, PypodError

    code = 0
    for label, ctr in targets:
        try:
            if ctr is None:
                ctr = ctx.runtime.get_container(label)
            action(ctr)
        except NoSuchContainer as exc:
            if ignore_missing:
                continue
            _error(exc)
            code = exc.exit_code
            continue
        except PypodError as exc:
            _error(exc)
            code = exc.exit_code
            continue
        if not quiet:
            print(label)
    return code


def _names(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("names", nargs="*", metavar="CONTAINER")


def _all_latest(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-a", "--all", action="store_true")
    parser.add_argument("-l", "--latest", action="store_true")


# --- start ---------------------------------------------------------------------------------


def start_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-a", "--attach", action="store_true")
    parser.add_argument("-i", "--interactive", action="store_true")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("--detach-keys", default="ctrl-p,ctrl-q")
    parser.add_argument("--sig-proxy", default="", nargs="?", const="true")
    parser.add_argument("-f", "--filter", action="append", default=[])
    _names(parser)


def start_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError

    _check_names(args, missing="start requires at least one argument")
    if args.attach:
        if len(args.names) != 1 or args.all:
            raise UsageError("you cannot start and attach multiple containers at once")
        ctr = ctx.runtime.get_container(args.names[0])
        stdin = sys.stdin if args.interactive else None
        sys.stdout.flush()
        code = ctr.attach_and_start(
            stdin=stdin, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer, detach_keys=args.detach_keys
        )
        if code is None:
            return 0
        if ctr.config.auto_remove:
            from pypod.cli.commands.create import _remove_quietly

            _remove_quietly(ctx.runtime, ctr)
        return int(code)
    targets = _targets(ctx, args, ("created", "configured", "stopped", "exited"))
    if args.filter:
        from pypod.cli.commands.ps import container_filter

        match = container_filter(ctx.runtime, args.filter)
        resolved = []
        for label, ctr in targets:
            ctr = ctr or ctx.runtime.get_container(label)
            if match(ctr):
                resolved.append((label, ctr))
        targets = resolved
    return _each(ctx, targets, _start_one)


def _start_one(ctr: Any) -> None:
    """podman's start: any failure of the container is one line naming it, exit code 125."""
    from pypod.errors import NoSuchContainer, PypodError

    try:
        ctr.start()
    except NoSuchContainer:
        raise
    except PypodError as exc:
        raise PypodError(f'unable to start container "{ctr.id}": {exc}', exit_code=125) from exc


# --- stop / kill / pause / unpause / restart -----------------------------------------------


def stop_args(parser: "argparse.ArgumentParser") -> None:
    _all_latest(parser)
    parser.add_argument("-t", "--time", "--timeout", dest="time", default=None)
    parser.add_argument("-i", "--ignore", action="store_true")
    parser.add_argument("--cidfile", action="append", default=[])
    parser.add_argument("-f", "--filter", action="append", default=[])
    _names(parser)


def stop_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    args.names = list(args.names) + _read_cidfiles(args.cidfile)
    _check_names(args)
    timeout = _uint_timeout(args.time)
    # podman: `stop --all` goes over every container, stopped ones included
    return _each(ctx, _targets(ctx, args, None), lambda c: c.stop(timeout=timeout), ignore_missing=args.ignore)


def _uint_timeout(value: str | None) -> int | None:
    """stop/restart -t: an unsigned number; a bad value is a flag error (with the --help hint)."""
    from pypod.cli.main import UsageError

    if value is not None and not value.strip().isdecimal():
        raise UsageError(
            f'invalid argument "{value}" for "-t, --time" flag: strconv.ParseUint: parsing "{value}": invalid syntax'
        )
    return _timeout(value)


def kill_args(parser: "argparse.ArgumentParser") -> None:
    _all_latest(parser)
    parser.add_argument("-s", "--signal", default="KILL")
    parser.add_argument("--cidfile", action="append", default=[])
    _names(parser)


def kill_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.createflags import parse_signal

    args.names = list(args.names) + _read_cidfiles(args.cidfile)
    _check_names(args)
    from pypod.errors import InvalidArgument

    if args.signal.strip().isdecimal() and int(args.signal) > 64:
        raise InvalidArgument("valid signals are 1 through 64")
    sig = parse_signal(args.signal)
    return _each(ctx, _targets(ctx, args, RUNNING), lambda c: c.kill(sig))


def pause_args(parser: "argparse.ArgumentParser") -> None:
    _all_latest(parser)
    _names(parser)


def pause_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    _check_names(args)
    return _each(ctx, _targets(ctx, args, RUNNING), lambda c: c.pause())


unpause_args = pause_args


def unpause_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    _check_names(args)
    return _each(ctx, _targets(ctx, args, ("paused",)), lambda c: c.unpause())


def restart_args(parser: "argparse.ArgumentParser") -> None:
    _all_latest(parser)
    parser.add_argument("-t", "--time", dest="time", default=None)
    parser.add_argument("--running", action="store_true")
    _names(parser)


def restart_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    _check_names(args)
    timeout = _uint_timeout(args.time)
    states = RUNNING if args.running else None
    return _each(ctx, _targets(ctx, args, states), lambda c: c.restart(timeout=timeout))


def init_args(parser: "argparse.ArgumentParser") -> None:
    _all_latest(parser)
    _names(parser)


def init_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    _check_names(args)
    return _each(ctx, _targets(ctx, args, ("configured", "exited", "stopped")), lambda c: c.init())


# --- rm -----------------------------------------------------------------------------------


def rm_args(parser: "argparse.ArgumentParser") -> None:
    _all_latest(parser)
    parser.add_argument("-f", "--force", action="store_true")
    parser.add_argument("-v", "--volumes", action="store_true")
    parser.add_argument("-t", "--time", dest="time", default=None)
    parser.add_argument("--depend", action="store_true")
    parser.add_argument("-i", "--ignore", action="store_true")
    parser.add_argument("--cidfile", action="append", default=[])
    parser.add_argument("--filter", action="append", default=[])
    _names(parser)


def _rm_exit_code(exc: Any) -> int:
    """podman rm: 1 no such container, 2 container running, 125 otherwise."""
    from pypod.errors import InvalidState, NoSuchContainer

    if isinstance(exc, NoSuchContainer):
        return 1
    if isinstance(exc, InvalidState):
        return 2
    return int(exc.exit_code)


def rm_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import DatabaseError, NoSuchContainer, PypodError

    rt = ctx.runtime
    args.names = list(args.names) + _read_cidfiles(args.cidfile)
    _check_names(args)
    timeout = _timeout(args.time)
    targets = _targets(ctx, args, None)
    resolved: list[tuple[str, Any]] = []
    if args.all and args.force:  # rows that do not decode are left out of the listing: remove them too
        targets += [(ctr_id, ctr_id) for ctr_id in rt.db.corrupt_containers]
    for label, ctr in targets:  # podman looks every name up before removing anything
        if ctr is None:
            try:
                ctr = rt.get_container(label)
            except NoSuchContainer as exc:
                if args.ignore or args.force:  # podman: --force ignores missing containers
                    continue
                _error(exc)
                return 1
            except DatabaseError:
                if not args.force:
                    raise
                ctr = label  # a corrupt record: remove_container removes it by ID
        resolved.append((label, ctr))
    code = 0
    for label, ctr in resolved:
        try:
            removed = rt.remove_container(
                ctr, force=args.force, volumes=args.volumes, timeout=timeout, depend=args.depend
            )
        except NoSuchContainer as exc:
            if args.ignore or args.all or args.force:  # removed meanwhile by another process
                continue
            _error(exc)
            code = 1
            continue
        except PypodError as exc:
            _error(exc)
            code = _rm_exit_code(exc)
            continue
        if args.depend and removed:
            for ctr_id in removed:
                print(ctr_id)
        else:
            print(label)
    if args.all:  # what killed commands left: unused layers (D7), namespaces of gone containers (D16)
        from pypod.libpod import imageops
        from pypod.libpod.network.lifecycle import remove_stale_network_state

        imageops.collect_layers(rt)
        remove_stale_network_state(rt)
    return code


# --- wait ---------------------------------------------------------------------------------


def wait_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("--condition", action="append", default=[])
    parser.add_argument("-i", "--interval", default="250ms")
    parser.add_argument("--ignore", action="store_true")
    _names(parser)


WAIT_CONDITIONS = ("configured", "created", "exited", "healthy", "initialized", "paused", "removing",
                   "running", "stopped", "stopping", "unhealthy")  # fmt: skip


def wait_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument, NoSuchContainer, PypodError

    _check_names(args, missing='"pypod wait" requires a name, id, or the "--latest" flag')
    conditions = [c for item in args.condition for c in item.split(",") if c] or ["stopped", "exited"]
    for cond in conditions:
        if cond not in WAIT_CONDITIONS:
            raise InvalidArgument(f"unknown container state: {cond}: invalid argument")
    code = 0
    for label, ctr in _targets(ctx, args, None):
        try:
            if ctr is None:
                ctr = ctx.runtime.get_container(label)
            print(ctr.wait(conditions=tuple(conditions)))
        except NoSuchContainer as exc:
            if args.ignore:
                print(-1)
                continue
            _error(exc)
            code = exc.exit_code
        except PypodError as exc:
            _error(exc)
            code = exc.exit_code
    return code


# --- rename, exists, cleanup, prune -------------------------------------------------------


def rename_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("words", nargs="*", metavar="CONTAINER NEW_NAME")


def rename_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import check_args
    from pypod.errors import AlreadyExists

    check_args(args.words, exactly=2)
    args.container, args.new_name = args.words
    rt = ctx.runtime
    ctr = rt.get_container(args.container)
    try:
        if hasattr(ctr, "rename"):
            ctr.rename(args.new_name)
        else:
            rt.rename_container(ctr, args.new_name)
    except AlreadyExists as exc:
        # podman's wording for a rename onto a taken name
        raise AlreadyExists(
            f"renaming container {ctr.id}: name {args.new_name} already in use, "
            f"cannot rename container {ctr.id}: container already exists"
        ) from exc
    return 0


def exists_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")
    parser.add_argument("--external", action="store_true")


def exists_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import check_args
    from pypod.errors import NoSuchContainer

    check_args(args.containers, exactly=1)
    args.container = args.containers[0]
    try:
        ctx.runtime.get_container(args.container)
    except NoSuchContainer:
        return 1
    return 0


def cleanup_args(parser: "argparse.ArgumentParser") -> None:
    _all_latest(parser)
    parser.add_argument("--rm", action="store_true")
    parser.add_argument("--rmi", action="store_true")
    parser.add_argument("--stopped-only", action="store_true")
    parser.add_argument("--exec", default="")
    _names(parser)


def _handle_exit_function() -> Callable[..., Any] | None:
    import importlib

    for module in ("pypod.libpod.container.container", "pypod.libpod.container.exit",
                   "pypod.libpod.container.lifecycle"):  # fmt: skip
        try:
            func = getattr(importlib.import_module(module), "handle_exit", None)
        except ImportError:
            continue
        if func is not None:
            return func
    return None


def cleanup_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    """Run by conmon when a container exits: quiet, never a traceback."""
    code = 0
    try:
        rt = ctx.runtime
        handle_exit = _handle_exit_function()
        ids = [c.id for _l, c in _targets(ctx, args, None) if c is not None] if (args.all or args.latest) else args.names
        for ctr_id in ids:
            try:
                if args.exec:
                    ctr = rt.get_container(ctr_id)
                    if hasattr(ctr, "cleanup_exec"):
                        ctr.cleanup_exec(args.exec)
                    continue
                if handle_exit is not None:
                    handle_exit(rt, ctr_id)
                else:
                    ctr = rt.get_container(ctr_id)
                    ctr.cleanup()
                    if args.rm or ctr.config.auto_remove:
                        rt.remove_container(ctr, force=True)
            except Exception as exc:  # noqa: BLE001 - the exit command must never crash loudly
                if ctx.options.get("log_level") == "debug":
                    _error(exc)
                code = 125
    except Exception:  # noqa: BLE001
        return 125
    return code


def prune_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-f", "--force", action="store_true")
    parser.add_argument("--filter", action="append", default=[])


def prune_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import PypodError

    if not args.force:
        print("WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ", end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    rt = ctx.runtime
    match = None
    if args.filter:
        from pypod.cli.commands.ps import container_filter

        match = container_filter(rt, args.filter, prune=True)
    code = 0
    for ctr in sorted(rt.list_containers(), key=lambda c: c.id):
        if ctr.state.status in ("running", "paused", "stopping", "removing"):
            continue
        if match is not None and not match(ctr):
            continue
        try:
            rt.remove_container(ctr, force=False)
        except PypodError as exc:
            _error(exc)
            code = exc.exit_code
            continue
        print(ctr.id)
    return code
