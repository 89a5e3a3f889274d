"""`pypod logs`: read conmon's k8s-file log (`<RFC3339Nano> stdout|stderr F|P text`)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, BinaryIO, Iterator
    import argparse

    from pypod.cli.main import Context

FOLLOW_INTERVAL = 0.1


@dataclass
class LogLine:
    """One full line: partial (P) pieces joined up to the final (F) one."""

    timestamp: str
    stream: str  # "stdout" | "stderr"
    text: bytes  # with its trailing newline

    @property
    def time(self) -> float:
        from pypod.cli.commands.ps import epoch

        return epoch(self.timestamp)


def parse_lines(data: bytes, pending: dict[str, LogLine]) -> Iterator[LogLine]:
    """Complete k8s-file lines in ``data`` -> LogLines; ``pending`` keeps partial ones per stream."""
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = raw.split(b" ", 3)
        if len(parts) < 3:
            continue
        ts, stream, tag = parts[0].decode(errors="replace"), parts[1].decode(errors="replace"), parts[2]
        text = parts[3] if len(parts) > 3 else b""
        held = pending.pop(stream, None)
        if held is not None:
            text = held.text + text
            ts = held.timestamp
        if tag == b"P":
            pending[stream] = LogLine(ts, stream, text)
            continue
        yield LogLine(ts, stream, text + b"\n")


class LogReader:
    """Incremental reader of one container's log file (only whole lines are parsed)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.buffer = b""
        self.pending: dict[str, LogLine] = {}

    def read_new(self) -> list[LogLine]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self.buffer + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self.buffer = data
            return []
        self.buffer = data[cut + 1 :]
        return list(parse_lines(data[: cut + 1], self.pending))


def logs_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-f", "--follow", action="store_true")
    parser.add_argument("--since", default="")
    parser.add_argument("--until", default="")
    parser.add_argument("--tail", default="-1")
    parser.add_argument("-t", "--timestamps", action="store_true")
    parser.add_argument("-n", "--names", action="store_true")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("--color", action="store_true")
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")


def go_timestamp(ts: str) -> str:
    """conmon's "...180+00:00" as Go's RFC3339Nano prints it: "...18Z"."""
    if ts.endswith("+00:00"):
        ts = ts[: -len("+00:00")] + "Z"
    head, dot, rest = ts.partition(".")
    if dot:
        i = 0
        while i < len(rest) and rest[i].isdecimal():
            i += 1
        frac = rest[:i].rstrip("0")
        ts = head + ("." + frac if frac else "") + rest[i:]
    return ts


class Printer:
    """Writes lines to our stdout/stderr, prefixed like podman (`-n` name, `-t` timestamp)."""

    def __init__(self, args: "argparse.Namespace", name_prefix: bool) -> None:
        self.args = args
        self.name_prefix = name_prefix
        self.id_prefix = False
        self.since = self.until = None
        from pypod.cli import humanize

        from pypod.errors import InvalidArgument

        for flag in ("since", "until"):
            value = getattr(args, flag)
            if value:
                try:
                    setattr(self, flag, humanize.parse_time(value))
                except InvalidArgument:
                    raise InvalidArgument(f'parsing --{flag} "{value}": unable to interpret time value') from None

    def wanted(self, line: LogLine) -> bool:
        if self.since is None and self.until is None:
            return True
        t = line.time
        if self.since is not None and t < self.since:
            return False
        return not (self.until is not None and t > self.until)

    def write(self, ctr: Any, line: LogLine) -> None:
        out: BinaryIO = sys.stderr.buffer if line.stream == "stderr" else sys.stdout.buffer
        prefix = b""
        if self.name_prefix:
            prefix += ctr.name.encode() + b" "
        elif self.id_prefix:  # podman: several containers without -n are told apart by short ID
            prefix += ctr.id[:12].encode() + b" "
        if self.args.timestamps:
            prefix += go_timestamp(line.timestamp).encode() + b" "
        out.write(prefix + line.text)
        out.flush()


def _log_path(ctr: Any) -> str:
    from pypod.errors import InvalidArgument

    if ctr.config.log_driver in ("none", "passthrough", "journald"):
        raise InvalidArgument(f"this container is using the '{ctr.config.log_driver}' log driver, cannot read logs")
    return ctr.config.log_path or ctr.log_path


def _running(ctr: Any) -> bool:
    try:
        ctr.sync()
    except Exception:  # noqa: BLE001 - a removed container is no longer running
        return False
    return ctr.state.status in ("running", "paused", "created", "stopping")


def logs_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError

    try:
        args.tail = int(args.tail)
    except ValueError:
        raise UsageError(
            f'invalid argument "{args.tail}" for "--tail" flag: strconv.ParseInt: parsing "{args.tail}": invalid syntax'
        ) from None
    rt = ctx.runtime
    if args.latest:
        if args.containers:
            raise UsageError("--latest and containers cannot be used together")
        ctrs = sorted(rt.list_containers(), key=lambda c: c.config.created)[-1:]
    else:
        if not args.containers:
            raise UsageError("specify at least one container name or ID to log")
        ctrs = [rt.get_container(name) for name in args.containers]
    printer = Printer(args, args.names)
    printer.id_prefix = len(ctrs) > 1
    readers = [(ctr, LogReader(_log_path(ctr))) for ctr in ctrs]
    for ctr, reader in readers:
        lines = [ln for ln in reader.read_new() if printer.wanted(ln)]
        if args.tail >= 0:
            lines = lines[-args.tail :] if args.tail else []
        for line in lines:
            printer.write(ctr, line)
    if not args.follow:
        return 0
    active = [(c, r) for c, r in readers]
    while active:
        still = []
        for ctr, reader in active:
            alive = _running(ctr)
            for line in reader.read_new():  # read after the state check: nothing written before exit is lost
                if printer.wanted(line):
                    printer.write(ctr, line)
            if alive and (printer.until is None or time.time() <= printer.until):
                still.append((ctr, reader))
        active = still
        if active:
            time.sleep(FOLLOW_INTERVAL)
    return 0


__all__ = ["LogLine", "LogReader", "parse_lines"]
