"""conmon's exit command, lean: ``python -I -S -c <bootstrap> <global options> ID``.

The same work as ``pypod container cleanup ID`` (``handle_exit``: restart policy, clean-up,
``--rm`` removal, events) without the CLI around it: no argparse, no command table, no
``site``.  It runs once per container exit, so its start-up is paid by every container.
"""

from __future__ import annotations

import os
import sys


def lean_argv(module: str, function: str, args: list[str]) -> list[str]:
    """``python -I -S -c <bootstrap> *args``: a process that runs ``module.function()`` (its
    exit code) with ``args`` in ``sys.argv[1:]``, without site or the CLI."""
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    boot = f"import sys;sys.path.insert(0,{src!r});from {module} import {function};sys.exit({function}())"
    return [sys.executable, "-I", "-S", "-c", boot, *args]


def exit_command(global_args: list[str], ctr_id: str) -> list[str]:
    """The argv conmon runs when the container's process exits."""
    return lean_argv("pypod.cleanup", "main", [*global_args, ctr_id])


HANDLED_HINT = "--unless-handled"  # HINT LOCK_FILE GONE_DIR, before the global options


def _already_handled(lock_file: str, gone_dir: str, args: list[str]) -> bool:
    """Whether the exit this command was started for has been dealt with by someone else.

    Under the container's lock (waiting for a `stop`, `rm` or `run --rm` that is cleaning up):
    no exit file left (a clean-up removes it as its very last step, after the runtime delete,
    the unmounts and the saved state), and for an auto-removed container, no container
    directory left.  Any doubt (no --tmpdir, no lock file) answers False: the full path runs.
    """
    import fcntl

    tmpdir = ""
    for i, arg in enumerate(args[:-1]):
        if arg == "--tmpdir":
            tmpdir = args[i + 1]
        elif arg.startswith("--tmpdir="):
            tmpdir = arg.partition("=")[2]
    if not tmpdir or len(args) < 2:
        return False
    ctr_id = args[-1]
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for path in (os.path.join(tmpdir, "exits", ctr_id), os.path.join(tmpdir, "persist", ctr_id, "exit")):
            if os.path.lexists(path):
                return False
        return not (gone_dir and os.path.lexists(gone_dir))
    except OSError:
        return False
    finally:
        os.close(fd)  # also releases the lock


def main(argv: list[str] | None = None) -> int:
    """Handle the exit of each container named after the global options; quiet, never a traceback.

    With the hint ``--unless-handled LOCK_FILE GONE_DIR`` first (see `_already_handled`), an
    exit that a `stop`/`rm`/`run --rm` has already cleaned up ends here, before the imports.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [HANDLED_HINT] and len(args) >= 3:
        hint, args = args[1:3], args[3:]
        try:
            if _already_handled(hint[0], hint[1], args):
                return 0
        except Exception:  # noqa: BLE001 - the exit command must never crash loudly
            pass
    try:
        from pypod.cli.main import Context, _split_globals

        options, ids = _split_globals(args)
        ctx = Context(options, "container cleanup")
        from pypod.libpod.container.container import handle_exit
    except Exception:  # noqa: BLE001 - the exit command must never crash loudly
        return 125
    code = 0
    for ctr_id in ids:
        try:
            handle_exit(ctx.runtime, ctr_id)
        except Exception as exc:  # noqa: BLE001
            if options.get("log_level") == "debug":
                print(f"Error: {exc}", file=sys.stderr)
            code = 125
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
