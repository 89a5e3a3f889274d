"""`pypod events`: show (and follow) the engine's event log."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from pypod.cli.main import Context


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "t", "yes"):
        return True
    if lowered in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f'invalid argument "{value}": strconv.ParseBool: parsing "{value}": invalid syntax')


def events_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", default=None, help="show all events created since timestamp")
    p.add_argument("--until", default=None, help="show all events created until timestamp")
    p.add_argument("-f", "--filter", action="append", default=[], help="filter output")
    p.add_argument("--format", default="", help="format the output using a Go template or json")
    p.add_argument("--stream", nargs="?", const=True, default=True, type=_bool,
                   help="stream events and do not exit when returning the last known event")
    p.add_argument("--no-trunc", nargs="?", const=True, default=True, type=_bool, help="do not truncate the output")


def events_cmd(args: argparse.Namespace, ctx: "Context") -> int:
    import json

    from pypod.cli.humanize import parse_time
    from pypod.libpod.events import EventView, compile_filters, format_human

    compile_filters(args.filter)  # report a bad filter before anything else
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    follow = bool(args.stream) and until is None
    tmpl = None
    if args.format and args.format != "json":
        from pypod.cli import gotemplate

        tmpl = gotemplate.compile(args.format, "events")
    log = ctx.runtime.events
    out = sys.stdout
    for event in log.read(since=since, until=until, filters=args.filter, follow=follow):
        if args.format == "json":
            line = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        elif tmpl is not None:
            line = tmpl.execute(EventView.of(event))
        else:
            line = format_human(event, no_trunc=args.no_trunc)
        out.write(line if line.endswith("\n") else line + "\n")
        if follow:
            out.flush()
    return 0
