"""The `pypod` command: global options, command dispatch, errors to exit codes.

Kept light on purpose: only argparse is imported at start-up, and only the module of the
command being run is loaded (see COMMANDS).  Each command module defines
``<prefix>_args(parser)`` to declare its flags and ``<prefix>_cmd(args, ctx) -> int``.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # not `typing` at start-up (`pypod --version` stays near bare interpreter start)
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any, NoReturn

    from pypod.libpod.runtime import Runtime

# command words -> (module under pypod.cli.commands, function prefix, one-line help)
COMMANDS: dict[tuple[str, ...], tuple[str, str, str]] = {
    # containers
    ("create",): ("create", "create", "Create but do not start a container"),
    ("run",): ("create", "run", "Run a command in a new container"),
    ("start",): ("lifecycle", "start", "Start one or more containers"),
    ("stop",): ("lifecycle", "stop", "Stop one or more containers"),
    ("kill",): ("lifecycle", "kill", "Kill one or more running containers with a specific signal"),
    ("pause",): ("lifecycle", "pause", "Pause all the processes in one or more containers"),
    ("unpause",): ("lifecycle", "unpause", "Unpause the processes in one or more containers"),
    ("restart",): ("lifecycle", "restart", "Restart one or more containers"),
    ("rm",): ("lifecycle", "rm", "Remove one or more containers"),
    ("wait",): ("lifecycle", "wait", "Block on one or more containers"),
    ("rename",): ("lifecycle", "rename", "Rename an existing container"),
    ("init",): ("lifecycle", "init", "Initialize one or more containers"),
    ("container", "cleanup"): ("lifecycle", "cleanup", "Clean up network and mountpoints of one or more containers"),
    ("container", "exists"): ("lifecycle", "exists", "Check if a container exists in local storage"),
    ("container", "prune"): ("lifecycle", "prune", "Remove all non running containers"),
    ("ps",): ("ps", "ps", "List containers"),
    ("inspect",): ("inspect", "inspect", "Display the configuration of object denoted by ID"),
    ("container", "inspect"): ("inspect", "container_inspect", "Display the configuration of a container"),
    ("logs",): ("logs", "logs", "Fetch the logs of one or more containers"),
    ("exec",): ("exec", "exec", "Run a process in a running container"),
    ("attach",): ("exec", "attach", "Attach to a running container"),
    ("top",): ("monitor", "top", "Display the running processes of a container"),
    ("stats",): ("monitor", "stats", "Display a live stream of container resource usage statistics"),
    ("port",): ("monitor", "port", "List port mappings or a specific mapping for the container"),
    ("export",): ("storagecmds", "export", "Export container's filesystem contents as a tar archive"),
    ("commit",): ("storagecmds", "commit", "Create new image based on the changed container"),
    ("diff",): ("storagecmds", "diff", "Display the changes to the object's file system"),
    ("cp",): ("storagecmds", "cp", "Copy files/folders between a container and the local filesystem"),
    ("mount",): ("storagecmds", "mount", "Mount a working container's root filesystem"),
    ("umount",): ("storagecmds", "umount", "Unmount working container's root filesystem"),
    ("unmount",): ("storagecmds", "umount", "Unmount working container's root filesystem"),
    ("container", "checkpoint"): ("monitor", "checkpoint", "Checkpoint one or more containers"),
    ("healthcheck", "run"): ("monitor", "healthcheck_run", "Run the health check of a container"),
    ("events",): ("events", "events", "Show podman system events"),
    # images
    ("images",): ("images", "images", "List images in local storage"),
    ("image", "inspect"): ("images", "image_inspect", "Display the configuration of an image"),
    ("tag",): ("images", "tag", "Add an additional name to a local image"),
    ("untag",): ("images", "untag", "Remove a name from a local image"),
    ("rmi",): ("images", "rmi", "Remove one or more images from local storage"),
    ("image", "prune"): ("images", "image_prune", "Remove unused images"),
    ("history",): ("images", "history", "Show history of a specified image"),
    ("image", "exists"): ("images", "image_exists", "Check if an image exists in local storage"),
    ("load",): ("images", "load", "Load image(s) from a tar archive"),
    ("save",): ("images", "save", "Save image(s) to an archive"),
    ("import",): ("images", "import", "Import a tarball to create a filesystem image"),
    # volumes
    ("volume", "create"): ("volumes", "create", "Create a new volume"),
    ("volume", "ls"): ("volumes", "ls", "List volumes"),
    ("volume", "inspect"): ("volumes", "inspect", "Display detailed information on one or more volumes"),
    ("volume", "rm"): ("volumes", "rm", "Remove one or more volumes"),
    ("volume", "prune"): ("volumes", "prune", "Remove all unused volumes"),
    ("volume", "exists"): ("volumes", "exists", "Check if volume exists"),
    # pods and networks
    ("pod", "create"): ("pods", "create", "Create a new empty pod"),
    ("pod", "start"): ("pods", "start", "Start one or more pods"),
    ("pod", "stop"): ("pods", "stop", "Stop one or more pods"),
    ("pod", "restart"): ("pods", "restart", "Restart one or more pods"),
    ("pod", "kill"): ("pods", "kill", "Send the specified signal or SIGKILL to containers in pod"),
    ("pod", "pause"): ("pods", "pause", "Pause one or more pods"),
    ("pod", "unpause"): ("pods", "unpause", "Unpause one or more pods"),
    ("pod", "rm"): ("pods", "rm", "Remove one or more pods"),
    ("pod", "ps"): ("pods", "ps", "List pods"),
    ("pod", "inspect"): ("pods", "inspect", "Display a pod configuration"),
    ("pod", "top"): ("pods", "top", "Display the running processes of containers in a pod"),
    ("pod", "stats"): ("pods", "stats", "Display a live stream of resource usage statistics for the containers in one or more pods"),
    ("pod", "exists"): ("pods", "exists", "Check if a pod exists in local storage"),
    ("pod", "prune"): ("pods", "prune", "Remove all stopped pods and their containers"),
    ("pod", "logs"): ("pods", "logs", "Fetch logs for pod with one or more containers"),
    ("network", "create"): ("networks", "create", "Create networks for containers and pods"),
    ("network", "ls"): ("networks", "ls", "List networks"),
    ("network", "inspect"): ("networks", "inspect", "Inspect network"),
    ("network", "rm"): ("networks", "rm", "Remove networks"),
    ("network", "prune"): ("networks", "prune", "Prune unused networks"),
    ("network", "exists"): ("networks", "exists", "Check if network exists"),
    ("network", "connect"): ("networks", "connect", "Add container to a network"),
    ("network", "disconnect"): ("networks", "disconnect", "Disconnect a container from a network"),
    ("network", "reload"): ("networks", "reload", "Reload firewall rules for one or more containers"),
    # system
    ("version",): ("system", "version", "Display the Podman version information"),
    ("info",): ("system", "info", "Display podman system information"),
    ("system", "info"): ("system", "info", "Display podman system information"),
    ("system", "df"): ("system", "df", "Show podman disk usage"),
    ("system", "prune"): ("system", "prune", "Remove unused data"),
    ("system", "reset"): ("system", "reset", "Reset podman storage"),
    ("system", "renumber"): ("system", "renumber", "Migrate lock numbers"),
    ("system", "migrate"): ("system", "migrate", "Migrate containers"),
    ("healthcheck", "scheduler"): ("monitor", "healthcheck_scheduler", "Run due healthchecks (internal)"),
}

# "container ls" and friends: the same command under its group
ALIASES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("container", "ls"): ("ps",),
    ("container", "list"): ("ps",),
    ("container", "ps"): ("ps",),
    ("image", "ls"): ("images",),
    ("image", "list"): ("images",),
    ("image", "rm"): ("rmi",),
    ("image", "tag"): ("tag",),
    ("image", "untag"): ("untag",),
    ("image", "history"): ("history",),
    ("image", "load"): ("load",),
    ("image", "save"): ("save",),
    ("image", "import"): ("import",),
    ("volume", "list"): ("volume", "ls"),
    ("network", "list"): ("network", "ls"),
    ("pod", "list"): ("pod", "ps"),
    ("pod", "ls"): ("pod", "ps"),
    ("container", "diff"): ("diff",),
    ("container", "commit"): ("commit",),
    ("container", "export"): ("export",),
    ("container", "cp"): ("cp",),
    ("container", "mount"): ("mount",),
    ("container", "umount"): ("umount",),
    ("container", "port"): ("port",),
    ("container", "top"): ("top",),
    ("container", "stats"): ("stats",),
    ("container", "logs"): ("logs",),
    ("container", "exec"): ("exec",),
    ("container", "attach"): ("attach",),
    ("container", "wait"): ("wait",),
    ("container", "rename"): ("rename",),
    ("container", "init"): ("init",),
    ("system", "events"): ("events",),
    ("image", "diff"): ("diff",),
}
for _verb in ("create", "run", "start", "stop", "kill", "pause", "unpause", "restart", "rm"):
    ALIASES[("container", _verb)] = (_verb,)

# global options that take a value (podman's names); the others are boolean
GLOBAL_VALUE_OPTIONS = {
    "--root": "root",
    "--runroot": "runroot",
    "--tmpdir": "tmpdir",
    "--storage-driver": "storage_driver",
    "--runtime": "runtime",
    "--log-level": "log_level",
    "--hooks-dir": "hooks_dir",
    "--network-config-dir": "network_config_dir",
    "--cgroup-manager": "cgroup_manager",
    "--events-backend": "events_backend",
    "--conmon": "conmon",
    "--network-backend": "network_backend",
    "--volumepath": "volumepath",
    "--storage-opt": "storage_opt",
    "--url": "url",
    "--connection": "connection",
    "--identity": "identity",
    "--module": "module",
}
GLOBAL_FLAG_OPTIONS = {"--syslog", "--remote", "--transient-store", "--noout", "--debug"}


class UsageError(Exception):
    """A bad flag or argument: exit 125 with podman's wording."""


def check_args(values: list[str], *, at_least: int = 0, exactly: int | None = None,
               at_most: int | None = None) -> None:
    """Positional argument counts with podman's (cobra's) messages."""
    n = len(values)
    if exactly is not None and n != exactly:
        raise UsageError(f"accepts {exactly} arg(s), received {n}")
    if n < at_least:
        raise UsageError(f"requires at least {at_least} arg(s), only received {n}")
    if at_most is not None and n > at_most:
        raise UsageError(f"accepts at most {at_most} arg(s), received {n}")


class Context:
    """What a command needs besides its flags: the global options and a lazy Runtime."""

    def __init__(self, options: dict[str, Any], command: str) -> None:
        self.options = options
        self.command = command
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> "Runtime":
        if self._runtime is None:
            from pypod.libpod.runtime import Runtime

            opts = self.options
            hooks = opts.get("hooks_dir")
            self._runtime = Runtime(
                root=opts.get("root"),
                runroot=opts.get("runroot"),
                tmpdir=opts.get("tmpdir"),
                storage_driver=opts.get("storage_driver"),
                runtime=opts.get("runtime"),
                log_level=opts.get("log_level"),
                hooks_dirs=hooks if hooks else None,
                network_config_dir=opts.get("network_config_dir"),
                conmon_path=opts.get("conmon"),
            )
        return self._runtime


def _import_argparse() -> Any:
    """argparse, imported without `gettext` (~1.5 ms: its module compiles a long regex).

    argparse only takes ``gettext``/``ngettext`` from it, and pypod replaces both (below), so a
    stand-in module serves during the import; a later ``import gettext`` still gets the real one.
    """
    if "argparse" in sys.modules or "gettext" in sys.modules:
        import argparse

        return argparse
    stand_in = type(sys)("gettext")
    stand_in.gettext = _untranslated  # type: ignore[attr-defined]
    stand_in.ngettext = _untranslated_plural  # type: ignore[attr-defined]
    sys.modules["gettext"] = stand_in
    try:
        import argparse
    finally:
        if sys.modules.get("gettext") is stand_in:
            del sys.modules["gettext"]
    return argparse


def _make_parser(prog: str, description: str) -> "argparse.ArgumentParser":
    argparse = _import_argparse()

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise UsageError(message)

        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            if args is not None:
                args = pflag_booleans(self, list(args))
            return super().parse_known_args(args, namespace)

    class Formatter(argparse.HelpFormatter):
        """argparse's formatter, sized like shutil.get_terminal_size without importing shutil.

        argparse builds one per add_argument; its default imports shutil (bz2, lzma: ~2-3 ms).
        """

        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: int | None = None) -> None:
            super().__init__(prog, indent_increment, max_help_position,
                             _terminal_columns() - 2 if width is None else width)

    # Messages stay English (podman's; UsageError handling matches on them): no gettext
    # catalogue search per message and no `locale` import (~1 ms per command).
    argparse._ = _untranslated  # type: ignore[attr-defined]
    argparse.ngettext = _untranslated_plural  # type: ignore[attr-defined]
    return Parser(prog=prog, description=description, allow_abbrev=False, formatter_class=Formatter)


_TRUE_WORDS = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_FALSE_WORDS = ("0", "f", "F", "FALSE", "false", "False")


def pflag_booleans(parser: Any, argv: list[str]) -> list[str]:
    """Boolean flags as podman (pflag) reads them, rewritten for argparse.

    ``--rm=false`` / ``--privileged=true`` on a plain switch; a bare ``--sig-proxy`` on a
    boolean that takes a value (marked ``pypod_bool``) means ``=true`` and never swallows the
    next word (pflag's booleans take values only after ``=``).  Only the options before the
    first positional (the image, for run/create) are looked at: what follows is the command.
    """
    actions = parser._option_string_actions  # noqa: SLF001
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--" or tok == "-" or not tok.startswith("-"):
            out.extend(argv[i:])
            break
        i += 1
        if tok.startswith("--"):
            name, eq, value = tok.partition("=")
            action = actions.get(name)
            if action is not None and action.nargs == 0 and eq and action.const is True:
                if value in _TRUE_WORDS:
                    out.append(name)
                elif value not in _FALSE_WORDS:
                    raise UsageError(
                        f'invalid argument "{value}" for "{name}" flag: strconv.ParseBool: parsing "{value}": invalid syntax'
                    )
                continue
            if action is not None and getattr(action, "pypod_bool", False) and not eq:
                out.append(f"{name}=true")
                continue
            out.append(tok)
            if action is not None and not eq and action.nargs is None and i < len(argv):
                out.append(argv[i])  # this option's value, not a positional
                i += 1
            continue
        out.append(tok)  # short options, maybe clustered: -it, -p8080:80, -dp 8080:80
        for j in range(1, len(tok)):
            action = actions.get("-" + tok[j])
            if action is None or action.nargs != 0:
                if action is not None and action.nargs is None and j + 1 == len(tok) and i < len(argv):
                    out.append(argv[i])
                    i += 1
                break
    return out


def _untranslated(message: str) -> str:
    return message


def _untranslated_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


_COLUMNS: list[int] = []  # argparse builds a formatter per add_argument: look the size up once


def _terminal_columns() -> int:
    """Columns as shutil.get_terminal_size() computes them (COLUMNS, then stdout's tty, then 80)."""
    if _COLUMNS:
        return _COLUMNS[0]
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    _COLUMNS.append(columns or 80)
    return _COLUMNS[0]


def _split_globals(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Take podman's global options off the front of argv."""
    options: dict[str, Any] = {"hooks_dir": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name in GLOBAL_VALUE_OPTIONS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                value = argv[i]
            key = GLOBAL_VALUE_OPTIONS[name]
            if key == "hooks_dir":
                options["hooks_dir"].append(value)
            else:
                options[key] = value
        elif name in GLOBAL_FLAG_OPTIONS:
            options[name[2:].replace("-", "_")] = True
        elif name in ("-v", "--version", "-h", "--help"):
            options[name.lstrip("-")] = True
        else:
            raise UsageError(f"unknown flag: {name}")
        i += 1
    return options, argv[i:]


def _find_command(words: list[str]) -> tuple[tuple[str, ...], int]:
    """The longest command (after aliases) that the leading words name."""
    for n in (2, 1):
        key = tuple(words[:n])
        if len(key) < n:
            continue
        if key in ALIASES:
            return ALIASES[key], n
        if key in COMMANDS:
            return key, n
    return (), 0


def _print_usage() -> None:
    lines = ["Usage:", "  pypod [options] [command]", "", "Available Commands:"]
    for words, (_m, _p, help_text) in sorted(COMMANDS.items()):
        lines.append(f"  {' '.join(words):<22}{help_text}")
    print("\n".join(lines))


def run(argv: list[str]) -> int:
    """Run one pypod command; returns the exit code (errors are printed here)."""
    from pypod.errors import PypodError

    command_name = ""
    try:
        options, rest = _split_globals(argv)
        if options.get("version") or options.get("v"):
            from pypod import __version__

            print(f"pypod version {__version__}")
            return 0
        if not rest:
            _print_usage()
            return 0 if options.get("help") or options.get("h") else 125
        key, used = _find_command(rest)
        if not key:
            group = rest[0]
            if any(words[0] == group for words in COMMANDS) and len(rest) == 1:
                _print_usage()
                return 125
            if any(words[0] == group for words in COMMANDS):
                command_name = group  # podman: "Try 'podman <group> --help'"
            raise UsageError(f"unrecognized command `pypod {' '.join(rest[:2])}`")
        command_name = " ".join(key)
        module_name, prefix, help_text = COMMANDS[key]
        # __import__, not importlib.import_module: the importlib package (and warnings) cost ~0.4 ms
        module = __import__(f"pypod.cli.commands.{module_name}", fromlist=["_"])
        parser = _make_parser(f"pypod {command_name}", help_text)
        getattr(module, f"{prefix}_args")(parser)
        args = parser.parse_args(rest[used:])
        ctx = Context(options, command_name)
        return int(getattr(module, f"{prefix}_cmd")(args, ctx) or 0)
    except UsageError as exc:
        msg = str(exc)
        if msg.startswith("unrecognized arguments: -"):
            msg = "unknown flag: " + msg.split(": ", 1)[1].split()[0]
        print(f"Error: {msg}", file=sys.stderr)
        if msg.startswith("unrecognized command"):
            print(f"Try 'pypod {command_name or ''}{' ' if command_name else ''}--help' for more information", file=sys.stderr)
        elif command_name and msg.startswith(("unknown flag", "unknown shorthand", "flag needs", "invalid argument", "argument ")):
            # podman adds the hint to flag errors only
            print(f"See 'pypod {command_name} --help'", file=sys.stderr)
        return 125
    except PypodError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    code = run(list(sys.argv[1:] if argv is None else argv))
    sys.stdout.flush()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
