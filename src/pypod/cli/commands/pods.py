"""`pod` commands: create, start, stop, restart, kill, pause, unpause, rm, ps, inspect, top,
stats, exists, prune, logs.

Verbs over several pods go on past an error: each error is printed as ``Error: ...`` and the
exit code of the last one is returned, like podman.
"""

from __future__ import annotations

import sys
import time

from pypod.cli.common import print_error as _error, parse_stop_timeout as _timeout

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

    import argparse

    from pypod.cli.main import Context

PS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}\t{{.NumberOfContainers}}"
PS_CTR_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}"
PS_HEADERS = {
    "ID": "POD ID", "Name": "NAME", "Status": "STATUS", "Created": "CREATED", "InfraID": "INFRA ID",
    "NumberOfContainers": "# OF CONTAINERS", "ContainerIds": "IDS", "ContainerNames": "NAMES",
    "ContainerStatuses": "STATUS", "Labels": "LABELS", "Cgroup": "CGROUP", "Networks": "NETWORKS",
    "Namespace": "NAMESPACE",
}  # fmt: skip
PS_SORT = ("created", "id", "name", "number", "status")
PS_FILTERS = ("ctr-ids", "ctr-names", "ctr-number", "ctr-status", "id", "label", "name", "network", "status", "until")
POD_STATES = ("stopped", "running", "paused", "exited", "dead", "created", "degraded", "error")


def _targets(ctx: "Context", args: "argparse.Namespace") -> list[tuple[str, Any]]:
    """(label, pod or None) pairs: the names given, or every pod with --all/--latest."""
    from pypod.cli.main import UsageError

    every = getattr(args, "all", False)
    latest = getattr(args, "latest", False)
    if every or latest:
        if args.pods:
            raise UsageError("when using the --all or --latest flag, you cannot also give pod names or IDs")
        pods = ctx.runtime.pods.list()
        if latest:
            pods = sorted(pods, key=lambda p: p.config.created)[-1:]
        return [(p.id, p) for p in pods]
    if not args.pods:
        raise UsageError("you must provide at least one name or id")
    return [(name, None) for name in args.pods]


def _each(ctx: "Context", targets: list[tuple[str, Any]], action: Callable[[Any], object], missing_code: int = 125) -> int:
    """Run ``action`` on each pod; print its ID or an error; return the exit code."""
    from pypod.errors import NoSuchPod, PypodError

    code = 0
    for label, pod in targets:
        try:
            if pod is None:
                pod = ctx.runtime.pods.get(label)
            action(pod)
            print(pod.id)
        except NoSuchPod as exc:
            _error(exc)
            code = missing_code
        except PypodError as exc:
            _error(exc)
            code = exc.exit_code
    return code


def _names_and_all(parser: "argparse.ArgumentParser", latest: bool = True) -> None:
    parser.add_argument("-a", "--all", action="store_true")
    if latest:
        parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("pods", nargs="*", metavar="POD")


# --- create ----------------------------------------------------------------------------------
def _bool_flag(value: str) -> bool:
    from pypod.errors import InvalidArgument

    text = value.strip().lower()
    if text in ("1", "t", "true"):
        return True
    if text in ("0", "f", "false"):
        return False
    raise InvalidArgument(f'invalid argument "{value}" for "--infra" flag: strconv.ParseBool: parsing "{value}": invalid syntax')


def create_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("--name", default="")
    parser.add_argument("--infra", nargs="?", const="true", default="true")
    parser.add_argument("--infra-image", default="")
    parser.add_argument("--infra-command", default="")
    parser.add_argument("--infra-name", default="")
    parser.add_argument("--share", default=None)
    parser.add_argument("-p", "--publish", action="append", default=[])
    parser.add_argument("--network", "--net", action="append", default=[])
    parser.add_argument("--hostname", default="")
    parser.add_argument("-l", "--label", action="append", default=[])
    parser.add_argument("--replace", action="store_true")
    parser.add_argument("--pod-id-file", default="")
    parser.add_argument("pod_name", nargs="?", default="")


def create_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument

    if args.pod_name and args.name and args.pod_name != args.name:
        raise InvalidArgument("cannot specify --name and a pod name at the same time")
    infra = _bool_flag(args.infra)
    ports: list[dict[str, Any]] = []
    if args.publish or args.label:  # createflags only when there is something to parse
        from pypod.cli.createflags import parse_key_values, parse_publish

        for item in args.publish:
            ports.extend(parse_publish(item))
        labels = parse_key_values(args.label, "label")
    else:
        labels = {}
    command = None
    if args.infra_command:
        import json

        text = args.infra_command.strip()
        command = json.loads(text) if text.startswith("[") else text.split()
    if not infra and (args.infra_image or args.infra_command or args.infra_name):
        raise InvalidArgument("cannot set infra options without an infra container")
    pod = ctx.runtime.pods.create(
        args.name or args.pod_name or None,
        infra=infra,
        infra_image=args.infra_image or None,
        infra_command=command,
        infra_name=args.infra_name or None,
        share=args.share,
        ports=ports,
        network=args.network or None,
        hostname=args.hostname or None,
        labels=labels,
        create_command=["pypod", *sys.argv[1:]],
        replace=args.replace,
    )
    if args.pod_id_file:
        with open(args.pod_id_file, "w", encoding="utf-8") as fh:
            fh.write(pod.id)
    print(pod.id)
    return 0


# --- verbs -----------------------------------------------------------------------------------
def start_args(parser: "argparse.ArgumentParser") -> None:
    _names_and_all(parser)


def start_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    return _each(ctx, _targets(ctx, args), lambda p: p.start())


def stop_args(parser: "argparse.ArgumentParser") -> None:
    _names_and_all(parser)
    parser.add_argument("-t", "--time", default=None)
    parser.add_argument("-i", "--ignore", action="store_true")


def stop_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    timeout = _timeout(args.time)
    targets = _targets(ctx, args)
    if args.ignore:
        targets = [(label, pod) for label, pod in targets if pod is not None or ctx.runtime.pods.exists(label)]
    return _each(ctx, targets, lambda p: p.stop(timeout))


def restart_args(parser: "argparse.ArgumentParser") -> None:
    _names_and_all(parser)
    parser.add_argument("-t", "--time", default=None)


def restart_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    timeout = _timeout(args.time)
    return _each(ctx, _targets(ctx, args), lambda p: p.restart(timeout))


def kill_args(parser: "argparse.ArgumentParser") -> None:
    _names_and_all(parser)
    parser.add_argument("-s", "--signal", default="KILL")


def kill_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.createflags import parse_signal

    sig = parse_signal(args.signal)
    return _each(ctx, _targets(ctx, args), lambda p: p.kill(sig))


def pause_args(parser: "argparse.ArgumentParser") -> None:
    _names_and_all(parser)


def pause_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    return _each(ctx, _targets(ctx, args), lambda p: p.pause())


def unpause_args(parser: "argparse.ArgumentParser") -> None:
    _names_and_all(parser)


def unpause_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    return _each(ctx, _targets(ctx, args), lambda p: p.unpause())


def rm_args(parser: "argparse.ArgumentParser") -> None:
    _names_and_all(parser)
    parser.add_argument("-f", "--force", action="store_true")
    parser.add_argument("-t", "--time", default=None)
    parser.add_argument("-i", "--ignore", action="store_true")
    parser.add_argument("--pod-id-file", action="append", default=[])


def rm_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    timeout = _timeout(args.time)
    for path in args.pod_id_file:
        with open(path, encoding="utf-8") as fh:
            args.pods.append(fh.read().strip())
    targets = _targets(ctx, args)
    if args.ignore or args.force:  # podman: -f also skips missing pods
        targets = [(label, pod) for label, pod in targets if pod is not None or ctx.runtime.pods.exists(label)]
    return _each(ctx, targets, lambda p: p.remove(force=args.force, timeout=timeout), missing_code=1)


def exists_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("pod", metavar="POD")


def exists_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    return 0 if ctx.runtime.pods.exists(args.pod) else 1


def prune_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-f", "--force", action="store_true")


def prune_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    if not args.force:
        sys.stdout.write(
            "WARNING! This will remove all stopped/exited pods..\nAre you sure you want to continue? [y/N] "
        )
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    for pod_id in ctx.runtime.pods.prune():
        print(pod_id)
    return 0


# --- ps ---------------------------------------------------------------------------------------
class PodRow:
    """One `pod ps` line; attribute names are podman's template fields."""

    def __init__(self, pod: Any, now: float, no_trunc: bool) -> None:
        from pypod.cli import humanize
        from pypod.cli.commands.ps import epoch
        from pypod.libpod.container.model import ContainerStatus

        ctrs = pod.containers()
        cut = (lambda s: s) if no_trunc else (lambda s: s[:12])
        self.pod = pod
        self.ctrs = ctrs
        self.FullID = pod.id
        self.Id = pod.id
        self.ID = cut(pod.id)
        self.Name = pod.name
        self.Status = pod.status(ctrs)
        self.CreatedEpoch = epoch(pod.config.created)
        self.Created = humanize.ago(self.CreatedEpoch, now)
        self.CreatedAt = pod.config.created
        self.InfraID = cut(pod.infra_id)
        self.InfraId = pod.infra_id
        self.NumberOfContainers = len(ctrs)
        self.ContainerIds = ",".join(cut(c.id) for c in ctrs)
        self.ContainerNames = ",".join(c.name for c in ctrs)
        self.ContainerStatuses = ",".join(ContainerStatus.display(c.state.status) for c in ctrs)
        self.Labels = dict(pod.config.labels)
        self.Cgroup = pod.config.cgroup_parent
        self.Networks = list(pod.config.networks)
        self.Namespace = ""

    def to_json(self) -> dict[str, Any]:
        from pypod.libpod.container.model import ContainerStatus

        return {
            "Cgroup": self.Cgroup,
            "Containers": [
                {"Id": c.id, "Names": c.name, "Status": ContainerStatus.display(c.state.status)} for c in self.ctrs
            ],
            "Created": self.CreatedAt,
            "Id": self.FullID,
            "InfraId": self.InfraId,
            "Name": self.Name,
            "Namespace": "",
            "Networks": self.Networks,
            "Status": self.Status,
            "Labels": self.Labels,
        }


def _pod_filter(key: str, values: list[str]) -> Callable[[PodRow], bool]:
    import re

    from pypod.errors import InvalidArgument

    if key == "name":
        return lambda row: any(re.search(v, row.Name) for v in values)
    if key == "id":
        return lambda row: any(re.match(v, row.FullID) for v in values)
    if key == "status":
        for v in values:
            if v not in POD_STATES:
                raise InvalidArgument(f"{v} is not a valid status")
        return lambda row: row.Status.lower() in values or ("dead" in values and row.Status == "Error")
    if key == "label":
        def label_ok(row: PodRow, spec: str) -> bool:
            k, eq, val = spec.partition("=")
            return k in row.Labels and (not eq or row.Labels[k] == val)

        return lambda row: all(label_ok(row, v) for v in values)
    if key == "ctr-names":
        return lambda row: any(re.search(v, c.name) for v in values for c in row.ctrs)
    if key == "ctr-ids":
        return lambda row: any(c.id.startswith(v) for v in values for c in row.ctrs)
    if key == "ctr-status":
        from pypod.libpod.container.model import ContainerStatus

        return lambda row: any(ContainerStatus.display(c.state.status) in values for c in row.ctrs)
    if key == "ctr-number":
        try:
            numbers = [int(v) for v in values]
        except ValueError:
            raise InvalidArgument(f"invalid ctr-number filter value {values}") from None
        return lambda row: row.NumberOfContainers in numbers
    if key == "network":
        return lambda row: any(v in row.Networks for v in values)
    raise InvalidArgument(f"{key} is an invalid filter")


def ps_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("--ctr-ids", action="store_true")
    parser.add_argument("--ctr-names", action="store_true")
    parser.add_argument("--ctr-status", action="store_true")
    parser.add_argument("-f", "--filter", action="append", default=[])
    parser.add_argument("--format", default="")
    parser.add_argument("--no-trunc", action="store_true")
    parser.add_argument("--noheading", "-n", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("--sort", default="created")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("--ns", action="store_true")


def ps_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    import json

    from pypod.errors import InvalidArgument

    if args.sort not in PS_SORT:
        raise InvalidArgument("invalid option for --sort, options are: id, names, or number")
    grouped: dict[str, list[str]] = {}
    for item in args.filter:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid filter {item!r}")
        grouped.setdefault(key, []).append(value)
    tests = [_pod_filter(k, v) for k, v in grouped.items()]
    now = time.time()
    rows = [PodRow(p, now, args.no_trunc) for p in ctx.runtime.pods.list()]
    rows = [r for r in rows if all(t(r) for t in tests)]
    if args.latest:
        rows = sorted(rows, key=lambda r: r.CreatedEpoch)[-1:]
    sort_keys: dict[str, Callable[[PodRow], Any]] = {
        "created": lambda r: -r.CreatedEpoch,
        "id": lambda r: r.FullID,
        "name": lambda r: r.Name,
        "number": lambda r: r.NumberOfContainers,
        "status": lambda r: r.Status,
    }
    rows.sort(key=sort_keys[args.sort])
    if args.quiet:
        for r in rows:
            print(r.ID)
        return 0
    fmt = args.format
    if fmt == "json":
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return 0
    from pypod.cli import gotemplate

    if not fmt:
        if args.ctr_ids or args.ctr_names or args.ctr_status:
            fmt = PS_CTR_FORMAT
            if args.ctr_ids:
                fmt += "\t{{.ContainerIds}}"
            if args.ctr_names:
                fmt += "\t{{.ContainerNames}}"
            if args.ctr_status:
                fmt += "\t{{.ContainerStatuses}}"
        else:
            fmt = PS_FORMAT
    if args.noheading and fmt.startswith("table"):
        fmt = fmt[len("table") :].lstrip()
    out = gotemplate.render_rows(fmt, rows, PS_HEADERS)
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


# --- inspect ----------------------------------------------------------------------------------
def inspect_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-f", "--format", default="")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("pods", nargs="*", metavar="POD")


def inspect_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    import json

    from pypod.cli.main import UsageError
    from pypod.errors import NoSuchPod

    rt = ctx.runtime
    if args.latest:
        pods = sorted(rt.pods.list(), key=lambda p: p.config.created)[-1:]
        if not pods:
            raise NoSuchPod("no pods to inspect: no such pod")
    else:
        if not args.pods:
            raise UsageError("you must provide the name or id of a running pod")
        pods = []
        for name in args.pods:
            try:
                pods.append(rt.pods.get(name))
            except NoSuchPod:
                if not args.format or args.format == "json":
                    print("[]")  # as podman, before the error
                raise NoSuchPod(f"inspecting object: no such pod {name}") from None
    data = [p.inspect() for p in pods]
    if args.format and args.format != "json":
        from pypod.cli import gotemplate

        out = "\n".join(gotemplate.render(args.format, d).rstrip("\n") for d in data)
        sys.stdout.write(out + "\n")
        return 0
    print(json.dumps(data[0] if len(data) == 1 else data, indent=5))
    return 0


# --- top, stats, logs ----------------------------------------------------------------------------
def _clock_ticks() -> int:
    import os

    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


def _proc_table() -> dict[int, int]:
    """pid -> ppid of every process on the host."""
    import os

    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdecimal():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                text = fh.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        table[int(entry)] = int(fields[1])
    return table


def _descendants(root: int, table: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
            todo.extend(children.get(pid, []))
    return sorted(out)


def _go_duration(seconds: float) -> str:
    """Go's time.Duration text, roughly: 596.799905ms, 3.2s, 1m2s, 1h0m5s."""
    if seconds < 1:
        return f"{seconds * 1000:.6f}".rstrip("0").rstrip(".") + "ms"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:.6f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def _top_row(pid: int, ticks: int, uptime: float) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        with open(f"/proc/{pid}/status") as fh:
            status = fh.read()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    info = {k: v.split() for k, _s, v in (line.partition(":") for line in status.splitlines())}
    nspid = info.get("NSpid", [str(pid)])[-1]
    ppid_ns = "0"
    try:
        with open(f"/proc/{fields[1]}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    ppid_ns = line.split()[-1] if len(line.split()) > 2 else "0"
    except OSError:
        pass
    if nspid == "1":
        ppid_ns = "0"
    uid = info.get("Uid", ["0"])[0]
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    elapsed = max(uptime - int(fields[19]) / ticks, 1e-6)
    tty = "?" if fields[4] == "0" else "pts/?"
    cpu_time = int(cpu)
    time_text = f"{cpu_time}s" if cpu_time < 60 else f"{cpu_time // 60}m{cpu_time % 60}s"
    return [uid, nspid, ppid_ns, f"{100 * cpu / elapsed:.3f}", _go_duration(elapsed), tty, time_text, cmdline]


def top_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("pod", metavar="POD")
    parser.add_argument("descriptors", nargs="*")


def top_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.tabwriter import format_table
    from pypod.errors import NoSuchPod

    try:
        pod = ctx.runtime.pods.get(args.pod)
    except NoSuchPod as exc:
        raise NoSuchPod(f"unable to look up requested container: {exc}") from None
    running = [c for c in pod.containers() if c.state.status == "running" and c.state.pid > 0]
    if not running:
        return 0  # podman 4.3.1 prints nothing for a pod with nothing running
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    ticks = _clock_ticks()
    table = _proc_table()
    rows = [["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]]
    for ctr in running:
        for pid in _descendants(ctr.state.pid, table):
            row = _top_row(pid, ticks, uptime)
            if row:
                rows.append(row)
    sys.stdout.write(format_table(rows))
    return 0


def _cgroup_file(controller: str, cgroup_path: str, name: str) -> str | None:
    import os

    for base in (f"/sys/fs/cgroup/{controller}", "/sys/fs/cgroup"):
        path = os.path.join(base, cgroup_path.strip("/"), name)
        try:
            with open(path) as fh:
                return fh.read().strip()
        except OSError:
            continue
    return None


def _ctr_stats(ctr: Any) -> dict[str, Any]:
    from pypod.cli import humanize
    from pypod.cli.commands.ps import epoch

    cfg = ctr.config
    path = f"{cfg.cgroup_parent or '/libpod_parent'}/libpod-{cfg.id}"
    mem = int(_cgroup_file("memory", path, "memory.usage_in_bytes") or _cgroup_file("memory", path, "memory.current") or 0)
    limit_text = _cgroup_file("memory", path, "memory.limit_in_bytes") or _cgroup_file("memory", path, "memory.max") or ""
    try:
        with open("/proc/meminfo") as fh:
            total = int(fh.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        total = 0
    limit = int(limit_text) if limit_text.isdecimal() else total
    limit = min(limit, total) if total else limit
    cpu_ns = int(_cgroup_file("cpuacct", path, "cpuacct.usage") or 0)
    started = epoch(ctr.state.started_at) or time.time()
    elapsed = max(time.time() - started, 1e-6)
    pids = _cgroup_file("pids", path, "pids.current") or "0"
    return {
        "CPU": f"{100 * cpu_ns / 1e9 / elapsed:.2f}%",
        "MemUsage": f"{humanize.size(mem)} / {humanize.size(limit)}",
        "Mem": f"{100 * mem / limit:.2f}%" if limit else "0.00%",
        "NetIO": "-- / --",
        "BlockIO": "-- / --",
        "PIDS": pids,
    }


def stats_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-a", "--all", action="store_true")
    parser.add_argument("--format", default="")
    parser.add_argument("--no-reset", action="store_true")
    parser.add_argument("--no-stream", action="store_true")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("pods", nargs="*", metavar="POD")


def stats_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    """One sample of every running container of the pods (streaming is not implemented)."""
    import json

    from pypod.cli.tabwriter import format_table

    rt = ctx.runtime
    pods = rt.pods.list() if args.all or not args.pods else [rt.pods.get(n) for n in args.pods]
    if args.latest:
        pods = sorted(pods, key=lambda p: p.config.created)[-1:]
    entries = []
    for pod in pods:
        for ctr in pod.containers():
            if ctr.state.status != "running":
                continue
            entry = {"Pod": pod.id[:12], "CID": ctr.id[:12], "Name": ctr.name}
            entry.update(_ctr_stats(ctr))
            entries.append(entry)
    if args.format == "json":
        print(json.dumps(entries, indent=4))
        return 0
    if args.format:
        from pypod.cli import gotemplate

        out = gotemplate.render_rows(args.format, entries, {
            "Pod": "POD", "CID": "CID", "Name": "NAME", "CPU": "CPU %", "MemUsage": "MEM USAGE/ LIMIT",
            "Mem": "MEM %", "NetIO": "NET IO", "BlockIO": "BLOCK IO", "PIDS": "PIDS",
        })  # fmt: skip
        sys.stdout.write(out)
        return 0
    rows = [["POD", "CID", "NAME", "CPU %", "MEM USAGE/ LIMIT", "MEM %", "NET IO", "BLOCK IO", "PIDS"]]
    for e in entries:
        rows.append([e["Pod"], e["CID"], e["Name"], e["CPU"], e["MemUsage"], e["Mem"], e["NetIO"], e["BlockIO"], e["PIDS"]])
    sys.stdout.write(format_table(rows))
    return 0


def logs_args(parser: "argparse.ArgumentParser") -> None:
    from pypod.cli.commands.logs import logs_args as container_logs_args

    container_logs_args(parser)
    parser.add_argument("-c", "--container", default="")


def logs_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    """The logs of the pod's containers (the infra container excluded), like `logs` on each."""
    from pypod.cli.commands.logs import logs_cmd as container_logs
    from pypod.cli.main import UsageError
    from pypod.errors import NoSuchContainer

    rt = ctx.runtime
    if args.latest:
        pods = sorted(rt.pods.list(), key=lambda p: p.config.created)[-1:]
        if not pods:
            raise UsageError("no pods to show the logs of")
        pod = pods[0]
    else:
        if len(args.containers) != 1:
            raise UsageError("requires exactly 1 arg(s), only received %d" % len(args.containers))
        pod = rt.pods.get(args.containers[0])
    members = [c for c in pod.containers() if c.id != pod.infra_id]
    if args.container:
        chosen = [c for c in members if c.name == args.container or c.id.startswith(args.container)]
        if not chosen:
            raise NoSuchContainer(f"container {args.container} is not in pod {pod.name}: no such container")
        members = chosen
    if not members:
        return 0
    args.containers = [c.id for c in members]
    args.latest = False
    return container_logs(args, ctx)
