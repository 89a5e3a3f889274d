"""conmon's exit command, lean: ``python -I -S -c <bootstrap> <global options> ID``.

The same work as ``pypod container cleanup ID`` (``handle_exit``: restart policy, clean-up,
``--rm`` removal, events) without the CLI around it: no argparse, no command table, no
``site``.  It runs once per container exit, so its start-up is paid by every container.
"""

from __future__ import annotations

import os
import sys


def exit_command(global_args: list[str], ctr_id: str) -> list[str]:
    """The argv conmon runs when the container's process exits."""
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    boot = f"import sys;sys.path.insert(0,{src!r});from pypod.cleanup import main;sys.exit(main())"
    return [sys.executable, "-I", "-S", "-c", boot, *global_args, ctr_id]


def main(argv: list[str] | None = None) -> int:
    """Handle the exit of each container named after the global options; quiet, never a traceback."""
    try:
        from pypod.cli.main import Context, _split_globals

        options, ids = _split_globals(list(sys.argv[1:] if argv is None else argv))
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
