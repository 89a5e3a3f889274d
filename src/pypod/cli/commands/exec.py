"""`exec` (run a process in a running container) and `attach` (to its main process)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from pypod.cli.main import Context

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def _latest(ctx: "Context"):  # type: ignore[no-untyped-def]
    from pypod.errors import NoSuchContainer

    ctrs = sorted(ctx.runtime.list_containers(), key=lambda c: c.config.created)
    if not ctrs:
        raise NoSuchContainer("no containers to run the command in: no such container")
    return ctrs[-1]


# --- exec ---------------------------------------------------------------------------------------
def exec_args(parser: "argparse.ArgumentParser") -> None:
    import argparse

    add = parser.add_argument
    add("-i", "--interactive", action="store_true")
    add("-t", "--tty", action="store_true")
    add("-e", "--env", action="append", default=[])
    add("--env-file", action="append", default=[])
    add("-u", "--user", default="")
    add("-w", "--workdir", default="")
    add("-d", "--detach", action="store_true")
    add("--privileged", action="store_true")
    add("--detach-keys", default=DEFAULT_DETACH_KEYS)
    add("-l", "--latest", action="store_true")
    add("--preserve-fds", type=int, default=0)
    add("container", nargs="?")
    add("command", nargs=argparse.REMAINDER)


def exec_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.createflags import parse_env, read_env_file
    from pypod.cli.main import UsageError
    from pypod.libpod.exec import exec_in, new_exec_id

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if args.latest:
        if args.container is not None:
            command = [args.container, *command]
        ctr = _latest(ctx)
    else:
        if args.container is None:
            raise UsageError("exec requires the name or ID of a container or the --latest flag")
        ctr = ctx.runtime.get_container(args.container)
    if not command:
        raise UsageError("must provide a non-empty command to start an exec session")
    items: list[str] = []
    for path in args.env_file:
        items.extend(read_env_file(path))
    items.extend(args.env)
    env = parse_env(items)
    session_id = new_exec_id()
    code = exec_in(
        ctx.runtime,
        ctr,
        command,
        env=env,
        user=args.user,
        workdir=args.workdir,
        tty=args.tty,
        interactive=args.interactive,
        detach=args.detach,
        privileged=args.privileged,
        session_id=session_id,
    )
    if args.detach:
        print(session_id)
        return 0
    return code


# --- attach ------------------------------------------------------------------------------------
def attach_args(parser: "argparse.ArgumentParser") -> None:
    add = parser.add_argument
    add("--detach-keys", default=DEFAULT_DETACH_KEYS)
    add("--no-stdin", action="store_true")
    add("--sig-proxy", default="true").pypod_bool = True  # type: ignore[attr-defined]  # bare = true
    add("-l", "--latest", action="store_true")
    add("container", nargs="?")


def attach_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    """Stream a running container's stdio; its exit code when it exits, 0 when detached."""
    import signal

    from pypod.cli.main import UsageError
    from pypod.errors import OCIRuntimeError

    if args.latest:
        ctr = _latest(ctx)
    elif args.container:
        ctr = ctx.runtime.get_container(args.container)
    else:
        raise UsageError("attach requires the name or ID of a container or the --latest flag")
    stdin = None if args.no_stdin or not ctr.config.stdin else sys.stdin.buffer
    sig_proxy = str(args.sig_proxy).lower() not in ("false", "0", "no")
    previous: dict[int, object] = {}
    if sig_proxy and not ctr.config.tty:

        def forward(signum: int, _frame: object) -> None:
            try:
                ctx.runtime.oci.kill(ctr.id, signum)
            except OCIRuntimeError:
                pass

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, forward)
    try:
        code = ctr.attach_and_start(
            stdin=stdin,
            stdout=sys.stdout.buffer,
            stderr=sys.stderr.buffer,
            detach_keys=args.detach_keys,
            start=False,
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
    if code is None:
        return 0
    return code if code >= 0 else 0
