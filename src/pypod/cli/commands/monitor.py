"""healthcheck run / scheduler, top, stats, port and container checkpoint."""

from __future__ import annotations

import sys

from pypod.cli.common import print_error as _error

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any
    import argparse

    from pypod.cli.main import Context


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): "0s", "1.5ms", "105.045665ms", "1m2.5s", "1h0m0s"."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(int(ns))
    if ns < 1_000_000_000:
        for unit, scale, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if ns >= scale:
                whole, frac = divmod(ns, scale)
                text = str(whole)
                if digits and frac:
                    text += "." + str(frac).rjust(digits, "0").rstrip("0")
                return f"{sign}{text}{unit}"
    hours, rem = divmod(ns, 3600 * 1_000_000_000)
    minutes, rem = divmod(rem, 60 * 1_000_000_000)
    secs, frac = divmod(rem, 1_000_000_000)
    text = str(secs) + ("." + str(frac).rjust(9, "0").rstrip("0") if frac else "") + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return f"{sign}{text}"


def stats_size(n: int | float) -> str:
    """go-units HumanSizeWithPrecision(n, 4): "0B", "458.8kB", "25.28GB"."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    value = float(n)
    i = 0
    while value >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{format(value, '.4g')}{units[i]}"


# --- healthcheck ---------------------------------------------------------------------------------
def healthcheck_run_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("--ignore-result", action="store_true")
    parser.add_argument("container")


def healthcheck_run_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    """0 healthy; 1 (printing the status) otherwise; 125 on error."""
    from pypod.libpod.healthcheck import HEALTHY, run_healthcheck

    rt = ctx.runtime
    ctr = rt.get_container(args.container)
    status, _code = run_healthcheck(rt, ctr)
    if status == HEALTHY:
        return 0
    print(status)
    return 0 if args.ignore_result else 1


def healthcheck_scheduler_args(parser: "argparse.ArgumentParser") -> None:
    del parser


def healthcheck_scheduler_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.libpod.healthcheck import run_scheduler

    del args
    return run_scheduler(ctx.runtime)


# --- top -----------------------------------------------------------------------------------------
# descriptor -> (header, value of a ProcessInfo)
def _descriptors() -> dict[str, tuple[str, Any]]:
    cols: dict[str, tuple[str, Any]] = {
        "user": ("USER", lambda p: p.user),
        "ruser": ("RUSER", lambda p: p.user),
        "huser": ("HUSER", lambda p: str(p.uid)),
        "group": ("GROUP", lambda p: p.group),
        "rgroup": ("RGROUP", lambda p: p.group),
        "hgroup": ("HGROUP", lambda p: str(p.gid)),
        "pid": ("PID", lambda p: str(p.pid)),
        "hpid": ("HPID", lambda p: str(p.host_pid)),
        "ppid": ("PPID", lambda p: str(p.ppid)),
        "pcpu": ("%CPU", lambda p: f"{p.cpu_percent:.3f}"),
        "etime": ("ELAPSED", lambda p: go_duration(round(p.elapsed * 100) * 10_000_000)),
        "tty": ("TTY", lambda p: p.tty),
        "time": ("TIME", lambda p: go_duration(round(p.cpu_time * 100) * 10_000_000)),
        "args": ("COMMAND", lambda p: p.args),
        "comm": ("COMMAND", lambda p: p.comm),
        "nice": ("NI", lambda p: str(p.nice)),
        "pgid": ("PGID", lambda p: str(p.pgid)),
        "vsz": ("VSZ", lambda p: str(p.vsz)),
        "state": ("STATE", lambda p: p.state),
    }
    aix = {"%C": "pcpu", "%G": "group", "%P": "ppid", "%U": "user", "%a": "args", "%c": "comm",
           "%g": "rgroup", "%n": "nice", "%p": "pid", "%r": "pgid", "%t": "etime", "%u": "ruser",
           "%x": "time", "%y": "tty", "%z": "vsz"}  # fmt: skip
    for code, name in aix.items():
        cols[code] = cols[name]
    return cols


DEFAULT_TOP = ["user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"]


def top_args(parser: "argparse.ArgumentParser") -> None:
    import argparse

    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("container", nargs="?")
    parser.add_argument("descriptors", nargs=argparse.REMAINDER)


def top_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError
    from pypod.cli.tabwriter import align_tabbed
    from pypod.errors import InvalidState
    from pypod.libpod import stats

    rt = ctx.runtime
    descriptors = list(args.descriptors)
    if args.latest:
        if args.container:
            descriptors.insert(0, args.container)
        ctrs = sorted(rt.list_containers(), key=lambda c: c.config.created)
        if not ctrs:
            raise UsageError("no containers to show")
        ctr = ctrs[-1]
    elif args.container:
        from pypod.errors import NotFound

        try:
            ctr = rt.get_container(args.container)
        except NotFound as exc:
            raise type(exc)(f"unable to look up requested container: {exc}") from None
    else:
        raise UsageError("you must provide the name or id of a running container")
    ctr.sync()
    if ctr.state.status not in ("running", "paused"):
        raise InvalidState("top can only be used on running containers")
    words = [w for d in descriptors for w in d.replace(",", " ").split()] or DEFAULT_TOP
    known = _descriptors()
    if any(w not in known for w in words):
        return _top_with_ps(ctx, ctr, descriptors)
    lines = ["\t".join(known[w][0] for w in words)]
    for proc in stats.processes(ctr):
        lines.append("\t".join(known[w][1](proc) for w in words))
    sys.stdout.write(align_tabbed("\n".join(lines) + "\n"))
    return 0


def _top_with_ps(ctx: "Context", ctr: Any, descriptors: list[str]) -> int:
    """Descriptors we do not know are ps(1) options: run ps inside the container."""
    from pypod.libpod.exec import exec_in

    sys.stdout.flush()
    return exec_in(ctx.runtime, ctr, ["ps", *descriptors])


# --- stats ---------------------------------------------------------------------------------------
STATS_HEADERS = {
    "ID": "ID", "ContainerID": "ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
    "MemUsageBytes": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET IO", "BlockIO": "BLOCK IO",
    "PIDS": "PIDS", "PIDs": "PIDS", "CPU": "CPU TIME", "CPUTime": "CPU TIME", "AVGCPU": "AVG CPU %",
    "AvgCPU": "AVG CPU %", "UpTime": "UPTIME", "Duration": "DURATION",
}  # fmt: skip
STATS_FORMAT = (
    "table {{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} "
    "{{.PIDS}} {{.CPU}} {{.AVGCPU}}"
)


def stats_args(parser: "argparse.ArgumentParser") -> None:
    add = parser.add_argument
    add("-a", "--all", action="store_true")
    add("--no-stream", action="store_true")
    add("--no-reset", action="store_true")
    add("--format", default="")
    add("-i", "--interval", type=int, default=5)
    add("-l", "--latest", action="store_true")
    add("containers", nargs="*")


def _stats_row(ctr: Any, previous: dict[str, Any]) -> dict[str, Any]:
    from pypod.errors import PypodError
    from pypod.libpod import stats

    short = ctr.id[:12]
    try:
        ctr.sync()
        sample = stats.usage(ctr)
    except PypodError:
        return {"ID": short, "ContainerID": ctr.id, "Name": ctr.name, "CPUPerc": "--", "MemUsage": "-- / --",
                "MemUsageBytes": "-- / --", "MemPerc": "--", "NetIO": "-- / --", "BlockIO": "-- / --",
                "PIDS": "--", "PIDs": "--", "CPU": "--", "CPUTime": "--", "AVGCPU": "--", "AvgCPU": "--",
                "UpTime": "--", "Duration": "--", "_json": None}  # fmt: skip
    up_ns = max(sample.started_seconds_ago, 1e-9) * 1e9
    avg = sample.cpu_ns / up_ns * 100 if up_ns != float("inf") else 0.0
    last = previous.get(ctr.id)
    if last is not None and sample.system_ns > last.system_ns:
        cpu = (sample.cpu_ns - last.cpu_ns) / (sample.system_ns - last.system_ns) * 100
    else:
        cpu = avg
    previous[ctr.id] = sample
    mem_pct = sample.mem_usage / sample.mem_limit * 100 if sample.mem_limit else 0.0
    row = {
        "ID": short,
        "ContainerID": ctr.id,
        "Name": ctr.name,
        "CPUPerc": f"{cpu:.2f}%",
        "MemUsage": f"{stats_size(sample.mem_usage)} / {stats_size(sample.mem_limit)}",
        "MemUsageBytes": f"{stats_size(sample.mem_usage)} / {stats_size(sample.mem_limit)}",
        "MemPerc": f"{mem_pct:.2f}%",
        "NetIO": f"{stats_size(sample.net_rx)} / {stats_size(sample.net_tx)}",
        "BlockIO": f"{stats_size(sample.block_read)} / {stats_size(sample.block_write)}",
        "PIDS": str(sample.pids),
        "PIDs": str(sample.pids),
        "CPU": go_duration(sample.cpu_ns),
        "CPUTime": go_duration(sample.cpu_ns),
        "AVGCPU": f"{avg:.2f}%",
        "AvgCPU": f"{avg:.2f}%",
        "UpTime": go_duration(sample.cpu_ns),
        "Duration": str(int(sample.started_seconds_ago)) if sample.started_seconds_ago != float("inf") else "0",
    }
    row["_json"] = {
        "id": short, "name": ctr.name, "cpu_time": row["CPU"], "cpu_percent": row["CPUPerc"],
        "avg_cpu": row["AVGCPU"], "mem_usage": row["MemUsage"], "mem_percent": row["MemPerc"],
        "net_io": row["NetIO"], "block_io": row["BlockIO"], "pids": row["PIDS"],
    }  # fmt: skip
    return row


def stats_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    import json
    import time

    from pypod.cli.gotemplate import is_json, render_rows
    from pypod.cli.main import UsageError
    from pypod.errors import InvalidState

    rt = ctx.runtime
    if args.all and args.containers:
        raise UsageError("--all, --latest and containers cannot be used together")
    if args.interval < 1:
        raise UsageError("stats interval must be greater than 0")
    named = [rt.get_container(name) for name in args.containers]
    for ctr in named:
        ctr.sync()
        if ctr.state.status not in ("running", "paused"):
            raise InvalidState(f"cannot get stats of container {ctr.id} as it is not running: container state improper")
    fmt = args.format or STATS_FORMAT
    previous: dict[str, Any] = {}
    while True:
        if named:
            ctrs = named
        else:
            ctrs = rt.containers(all=args.all)
            if args.latest:
                ctrs = sorted(ctrs, key=lambda c: c.config.created)[-1:]
        rows = [_stats_row(c, previous) for c in ctrs]
        if is_json(fmt):
            out = json.dumps([r["_json"] for r in rows if r["_json"] is not None], indent=1) + "\n"
        else:
            out = render_rows(fmt, rows, headers=STATS_HEADERS)
        if not args.no_stream and not args.no_reset:
            out = "\033[2J\033[H" + out
        sys.stdout.write(out)
        sys.stdout.flush()
        if args.no_stream:
            return 0
        time.sleep(args.interval)


# --- port ----------------------------------------------------------------------------------------
def port_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-a", "--all", action="store_true")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("container", nargs="?")
    parser.add_argument("private_port", nargs="?")


def _mappings(ctr: Any) -> list[tuple[int, str, str, int]]:
    """(container port, protocol, host ip, host port) for every published port."""
    from pypod.libpod.network.ports import published_ports

    out = []
    for entry in published_ports(ctr.config, ctr.state):
        count = max(int(entry.get("range") or 1), 1)
        for i in range(count):
            for proto in str(entry.get("protocol") or "tcp").split(","):
                out.append((
                    int(entry.get("container_port") or 0) + i,
                    proto,
                    entry.get("host_ip") or "0.0.0.0",
                    int(entry.get("host_port") or 0) + i,
                ))  # fmt: skip
    return out


def port_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError
    from pypod.errors import InvalidArgument

    rt = ctx.runtime
    private = args.private_port
    if args.all or args.latest:
        if args.all and args.private_port is not None:
            raise UsageError("the -a/--all flag accepts no arguments other than flags")
        if args.latest:
            private = args.container
        ctrs = sorted(rt.list_containers(), key=lambda c: c.config.created)
        if args.latest:
            ctrs = ctrs[-1:]
    elif args.container:
        ctrs = [rt.get_container(args.container)]
    else:
        raise UsageError("you must supply a running container name or id")
    wanted_port, wanted_proto = None, "tcp"
    if private:
        text, _, proto = private.partition("/")
        if not text.isdecimal():
            raise InvalidArgument(f'strconv.ParseUint: parsing "{text}": invalid syntax')
        wanted_port, wanted_proto = int(text), proto or "tcp"
    found = has_ports = False
    for ctr in ctrs:
        ctr.sync()
        if ctr.state.status not in ("running", "paused"):
            continue
        for cport, proto, host_ip, host_port in _mappings(ctr):
            has_ports = True
            if wanted_port is not None:
                if cport == wanted_port and proto == wanted_proto:
                    print(f"{host_ip}:{host_port}")
                    found = True
                continue
            prefix = f"{ctr.id[:12]}\t" if args.all else ""
            print(f"{prefix}{cport}/{proto} -> {host_ip}:{host_port}")
    if wanted_port is not None and has_ports and not found:  # podman: no mappings at all is not an error
        raise InvalidArgument(f'failed to find published port "{private}"')
    return 0


# --- checkpoint ----------------------------------------------------------------------------------
def checkpoint_args(parser: "argparse.ArgumentParser") -> None:
    add = parser.add_argument
    add("-a", "--all", action="store_true")
    add("-l", "--latest", action="store_true")
    add("-R", "--leave-running", action="store_true")
    add("-k", "--keep", action="store_true")
    add("--tcp-established", action="store_true")
    add("containers", nargs="*")


def checkpoint_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError
    from pypod.errors import PypodError
    from pypod.libpod.checkpoint import checkpoint

    rt = ctx.runtime
    if args.all or args.latest:
        ctrs = [c for c in rt.list_containers() if c.state.status == "running"]
        if args.latest:
            ctrs = sorted(ctrs, key=lambda c: c.config.created)[-1:]
        targets: list[tuple[str, Any]] = [(c.id, c) for c in ctrs]
    elif args.containers:
        targets = [(name, None) for name in args.containers]
    else:
        raise UsageError("you must provide at least one name or id")
    code = 0
    for label, ctr in targets:
        try:
            if ctr is None:
                ctr = rt.get_container(label)
            checkpoint(ctr, leave_running=args.leave_running, keep=args.keep, tcp_established=args.tcp_established)
            print(label)
        except PypodError as exc:
            _error(exc)
            code = exc.exit_code
    return code
