"""`pypod create` and `pypod run`."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    import argparse

    from pypod.cli.main import Context

def create_args(parser: "argparse.ArgumentParser") -> None:
    from pypod.cli.createflags import add_create_flags

    add_create_flags(parser)


def run_args(parser: "argparse.ArgumentParser") -> None:
    from pypod.cli.createflags import add_create_flags

    add_create_flags(parser, run=True)


def _create(args: "argparse.Namespace", ctx: "Context") -> Any:
    """Validate, honour --replace and --cidfile, create; returns the Container."""
    from pypod.cli.createflags import build_config
    from pypod.errors import AlreadyExists, InvalidArgument, NoSuchContainer

    from pypod.cli.main import check_args

    check_args([args.image] if args.image else [], at_least=1)
    rt = ctx.runtime
    if args.cidfile and os.path.exists(args.cidfile):
        raise InvalidArgument(
            f"container id file exists. Ensure another container is not using it or delete {args.cidfile}"
        )
    cfg = build_config(args, rt, ["pypod", *sys.argv[1:]])
    if args.replace:
        if not args.name:
            raise InvalidArgument("cannot replace container without --name being set")
        try:
            old = rt.get_container(args.name)
        except NoSuchContainer:
            pass
        else:
            rt.remove_container(old, force=True)
    try:
        ctr = rt.create_container(cfg)
    except AlreadyExists as exc:
        raise AlreadyExists(f"creating container storage: {exc}") from None
    if args.cidfile:
        try:
            with open(args.cidfile, "x", encoding="utf-8") as f:
                f.write(ctr.id)
        except OSError as exc:
            raise InvalidArgument(f"opening cidfile: {exc}") from None
    return ctr


def create_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    ctr = _create(args, ctx)
    print(ctr.id)
    return 0


def _remove_quietly(rt: Any, ctr: Any) -> None:
    from pypod.errors import NoSuchContainer, PypodError

    try:
        rt.remove_container(ctr, force=True, volumes=True)
    except NoSuchContainer:
        pass  # the exit command removed it already
    except PypodError as exc:
        print(f"Error: {exc}", file=sys.stderr)


class _SignalProxy:
    """Forward the signals pypod receives to the container while attached (--sig-proxy)."""

    def __init__(self, ctr: Any) -> None:
        self.ctr = ctr
        self.saved: dict[int, Any] = {}

    def __enter__(self) -> "_SignalProxy":
        import signal

        for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
            sig = getattr(signal, name)
            try:
                self.saved[sig] = signal.signal(sig, self._forward)
            except (OSError, ValueError):
                pass
        return self

    def _forward(self, signum: int, _frame: Any) -> None:
        import threading

        def send() -> None:
            try:
                self.ctr.kill(signum)
            except Exception:  # noqa: BLE001 - the container may be gone already
                pass

        threading.Thread(target=send, daemon=True).start()

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, handler in self.saved.items():
            try:
                signal.signal(sig, handler)
            except (OSError, ValueError):
                pass


def attach_streams(args: "argparse.Namespace") -> tuple[Any, Any, Any]:
    """stdin/stdout/stderr to attach, honouring -i and -a."""
    wanted = {s.lower() for s in args.attach} or {"stdout", "stderr"} | ({"stdin"} if args.interactive else set())
    stdin = sys.stdin if "stdin" in wanted and args.interactive else None
    stdout = sys.stdout.buffer if "stdout" in wanted else None
    stderr = sys.stderr.buffer if "stderr" in wanted else None
    return stdin, stdout, stderr


def run_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import PypodError

    rt = ctx.runtime
    if args.tty and args.interactive and not args.detach and not _stdin_is_tty():
        _warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    ctr = _create(args, ctx)
    if args.detach:
        try:
            ctr.start()
        except PypodError as err:
            if args.rm:
                _remove_quietly(rt, ctr)
            raise _start_failure(err)
        print(ctr.id)
        return 0
    stdin, stdout, stderr = attach_streams(args)
    detach_keys = args.detach_keys if args.detach_keys is not None else "ctrl-p,ctrl-q"
    sys.stdout.flush()
    try:
        proxy = args.sig_proxy.lower() not in ("false", "0", "f") and not args.tty
        if proxy:
            with _SignalProxy(ctr):
                code = ctr.attach_and_start(stdin=stdin, stdout=stdout, stderr=stderr, detach_keys=detach_keys)
        else:  # the container's terminal gets the signals (attach puts ours in raw mode)
            code = ctr.attach_and_start(stdin=stdin, stdout=stdout, stderr=stderr, detach_keys=detach_keys)
    except PypodError as err:
        if args.rm:
            _remove_quietly(rt, ctr)
        raise _start_failure(err)
    if code is None:  # detached with the detach keys: the container keeps running
        return 0
    if args.rm:
        _remove_quietly(rt, ctr)
    return int(code)


def _start_failure(err: Exception) -> Exception:
    """podman's exit code for a container that could not start: 127 "not found", else 126."""
    text = str(err).lower()
    # a missing OCI runtime or conmon is an engine error (125), not the container's command
    if getattr(err, "exit_code", None) == 125 and "oci runtime \"" not in text and "conmon binary" not in text:
        err.exit_code = 127 if "not found" in text or "no such file" in text else 126  # type: ignore[attr-defined]
    return err


def _stdin_is_tty() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False


def _warn(msg: str) -> None:
    """A warning in podman's log format on stderr."""
    import sys
    from datetime import datetime

    stamp = datetime.now().astimezone().isoformat(timespec="seconds").replace("+00:00", "Z")
    print(f'time="{stamp}" level=warning msg="{msg}"', file=sys.stderr)
