"""`pypod ps`: list containers from ONE database read; no runtime call for stopped containers."""

from __future__ import annotations

import re
import sys
import time
TYPE_CHECKING = False  # not `typing` at run time
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any, Callable

    from pypod.cli.main import Context

DEFAULT_FORMAT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "ImageID": "IMAGE ID", "Command": "COMMAND",
    "CreatedHuman": "CREATED", "CreatedAt": "CREATED AT", "Created": "CREATED", "RunningFor": "CREATED",
    "Status": "STATUS", "State": "STATE", "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE",
    "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "Pod": "POD ID", "PodName": "PODNAME",
    "Pid": "PID", "ExitCode": "EXIT CODE", "Exited": "EXITED", "ExitedAt": "EXITED AT",
    "StartedAt": "STARTED AT", "AutoRemove": "AUTOREMOVE", "IsInfra": "IS INFRA",
    "Namespaces": "NAMESPACES", "Cgroup": "CGROUPNS", "IPC": "IPC", "MNT": "MNT", "NET": "NET",
    "PIDNS": "PIDNS", "User": "USERNS", "UTS": "UTS",
}  # fmt: skip
SORT_KEYS = ("command", "created", "id", "image", "names", "runningfor", "size", "status")
GO_ZERO_TIME = -62135596800
COMMAND_WIDTH = 17


_EPOCHS: dict[str, float] = {}  # ps parses each time stamp up to twice per row


def epoch(rfc3339: str) -> float:
    """RFC 3339 (with nanoseconds) -> seconds since the epoch; 0.0 for ""."""
    cached = _EPOCHS.get(rfc3339)
    if cached is None:
        from pypod.libpod.timefmt import epoch_seconds

        cached = _EPOCHS[rfc3339] = epoch_seconds(rfc3339)
    return cached


def _display_state(status: str) -> str:
    """podman's State word: created (configured), initialized (created), running, exited..."""
    from pypod.libpod.container.model import ContainerStatus

    return ContainerStatus.display(status)


def status_text(ctr: Any, now: float) -> str:
    """"Created", "Up 3 seconds ago", "Exited (0) 2 seconds ago", "Paused"..."""
    import pypod.cli.humanize as humanize  # per row: no _handle_fromlist

    st = ctr.state
    status = st.status
    if status == "running":
        text = "Up " + humanize.ago(epoch(st.started_at), now)
        if st.health_status:
            text += f" ({st.health_status})"
        return text
    if status in ("stopped", "exited"):
        if not st.finished_at and not st.started_at:
            return "Created"
        return f"Exited ({st.exit_code}) " + humanize.ago(epoch(st.finished_at), now)
    if status == "configured":
        return "Created"
    return _display_state(status).capitalize()


def format_ports(ports: list[dict[str, Any]]) -> str:
    """"0.0.0.0:8080->80/tcp, 0.0.0.0:9000-9001->9000-9001/udp"."""
    out = []
    for p in ports:
        count = int(p.get("range") or 1)
        ctr_port = int(p["container_port"])
        ctr_text = f"{ctr_port}" if count == 1 else f"{ctr_port}-{ctr_port + count - 1}"
        host_port = int(p.get("host_port") or 0)
        host_text = f"{host_port}" if count == 1 else f"{host_port}-{host_port + count - 1}"
        ip = p.get("host_ip") or "0.0.0.0"
        out.append(f"{ip}:{host_text}->{ctr_text}/{p.get('protocol', 'tcp')}")
    return ", ".join(out)


class ImageIndex:
    """Images read once, on first need: names and configs by ID."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self._by_id: dict[str, Any] | None = None

    def by_id(self) -> dict[str, Any]:
        if self._by_id is None:
            try:
                self._by_id = {img.id: img for img in self.rt.images.list()}
            except Exception:  # noqa: BLE001 - a broken image store must not break ps
                self._by_id = {}
        return self._by_id

    def get(self, image_id: str) -> Any:
        return self.by_id().get(image_id)


def full_command(ctr: Any, images: ImageIndex) -> list[str]:
    """Entrypoint + command as the container runs it (image defaults applied)."""
    cfg = ctr.config
    entry, cmd = cfg.entrypoint, cfg.command
    if entry is None or cmd is None:
        img = images.get(cfg.image_id) if cfg.image_id else None
        icfg = ((img.config or {}).get("config") or {}) if img is not None else {}
        if entry is None:
            entry = icfg.get("Entrypoint") or []
            if cmd is None:
                cmd = icfg.get("Cmd") or []
        elif cmd is None:
            cmd = []
    return list(entry or []) + list(cmd or [])


class PsRow:
    """One container as the --format templates see it (podman's field names)."""

    go_type = "containers.psReporter"  # the type named in template errors

    def __init__(self, ctr: Any, images: ImageIndex, now: float, *, no_trunc: bool, size: Any = None) -> None:
        import pypod.cli.humanize as humanize  # per row: no _handle_fromlist

        cfg, st = ctr.config, ctr.state
        self._ctr = ctr
        self.Id = ctr.id
        self.ID = ctr.id if no_trunc else ctr.id[:12]
        image = cfg.image_name or cfg.raw_image_name
        if not image and cfg.image_id:
            img = images.get(cfg.image_id)
            image = img.names[0] if img is not None and img.names else cfg.image_id[:12]
        self.Image = image or cfg.rootfs
        self.ImageID = cfg.image_id if no_trunc else cfg.image_id[:12]
        self._image_id = cfg.image_id
        self.CommandList = full_command(ctr, images)
        command = " ".join(self.CommandList)
        if not no_trunc and len(command) > COMMAND_WIDTH + 3:
            command = command[:COMMAND_WIDTH] + "..."
        self.Command = command
        self.CreatedUnix = epoch(cfg.created)
        self.Created = int(self.CreatedUnix)
        self.CreatedHuman = humanize.ago(self.CreatedUnix, now)
        self.RunningFor = self.CreatedHuman
        self.CreatedAt = humanize.podman_time(self.CreatedUnix)
        self.Status = status_text(ctr, now)
        self.StateWord = _display_state(st.status)
        if self.StateWord == "stopped":
            self.StateWord = "exited"
        # podman 4.3.1 prints the human status for {{.State}}; pypod keeps the word (scripts/tests rely on it)
        self.State = self.StateWord
        from pypod.libpod.network.ports import published_ports

        self._ports = published_ports(cfg, st)
        self.Ports = format_ports(self._ports)
        self.Names = ctr.name
        from pypod.libpod.container.inspect import NilMap

        self.Labels = dict(cfg.labels) or NilMap()  # Go's nil map: {{json .Labels}} is null
        self.Mounts = [m["destination"] for m in cfg.binds + cfg.volumes]
        self._networks = list(cfg.networks)
        self.Networks = ",".join(network_names(ctr))  # podman's template method joins the names
        self.Pod = cfg.pod_id
        self.PodName = ""
        self.Pid = st.pid if st.status in ("running", "paused") else 0
        self.ExitCode = st.exit_code
        self.Exited = st.status in ("stopped", "exited") and bool(st.finished_at)
        self.ExitedAt = int(epoch(st.finished_at)) if st.finished_at else GO_ZERO_TIME
        self.StartedAt = int(epoch(st.started_at)) if st.started_at else GO_ZERO_TIME
        self.AutoRemove = cfg.auto_remove
        self.IsInfra = cfg.is_infra
        self.SizeInfo = size
        self.Size = "" if size is None else f"{_compact(size[0])} (virtual {_compact(size[1])})"

    def Label(self, key: str) -> str:  # noqa: N802 - Go template method name
        return (self.Labels or {}).get(key, "")

    def to_json(self) -> dict[str, Any]:
        size = None if self.SizeInfo is None else {"rootFsSize": self.SizeInfo[1], "rwSize": self.SizeInfo[0]}

        return {
            "AutoRemove": self.AutoRemove,
            "Command": self.CommandList or None,
            "CreatedAt": self.CreatedHuman,
            "Exited": self.Exited,
            "ExitedAt": self.ExitedAt,
            "ExitCode": self.ExitCode,
            "Id": self.Id,
            "Image": self.Image,
            "ImageID": self._image_id,
            "IsInfra": self.IsInfra,
            "Labels": self.Labels or None,
            "Mounts": self.Mounts,
            "Names": [self.Names],
            "Namespaces": {},
            "Networks": self._networks,
            "Pid": self.Pid,
            "Pod": self.Pod,
            "PodName": self.PodName,
            "Ports": _json_ports(self._ports),
            "Size": size,
            "StartedAt": self.StartedAt,
            "State": self.StateWord,
            "Status": self.Status,
            "Created": self.Created,
        }


def network_names(ctr: Any) -> list[str]:
    """The networks a container is attached to (bridge mode without names: the default one)."""
    cfg = ctr.config
    if cfg.networks:
        return list(cfg.networks)
    if cfg.network_mode == "bridge":
        return ["podman"]
    return []


def json_quote(text: str) -> str:
    """Go's %q for plain text."""
    import json

    return json.dumps(text, ensure_ascii=False)


def _json_ports(ports: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    if not ports:
        return None
    return [
        {"host_ip": p.get("host_ip", ""), "container_port": p["container_port"], "host_port": p.get("host_port", 0),
         "range": p.get("range", 1), "protocol": p.get("protocol", "tcp")}
        for p in ports
    ]  # fmt: skip


# --- filters ------------------------------------------------------------------------------


def container_filter(rt: Any, filters: list[str], *, prune: bool = False) -> Callable[[Any], bool]:
    """--filter key=value items -> predicate; same key ORs, different keys AND."""
    from pypod.errors import InvalidArgument

    by_key: dict[str, list[str]] = {}
    for item in filters:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f'invalid filter "{item}"')
        by_key.setdefault(key, []).append(value)
    images = ImageIndex(rt)
    tests: list[Callable[[Any], bool]] = []
    for key, values in by_key.items():
        tests.append(_filter_test(rt, key, values, images, prune))
    return lambda ctr: all(t(ctr) for t in tests)


def _label_match(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def _filter_test(rt: Any, key: str, values: list[str], images: ImageIndex, prune: bool) -> Callable[[Any], bool]:
    from pypod.errors import InvalidArgument

    if key == "id":
        return lambda c: any(c.id.startswith(v) for v in values)
    if key == "name":
        pats = [re.compile(v) for v in values]
        return lambda c: any(p.search(c.name) for p in pats)
    if key == "label":
        return lambda c: all(_label_match(c.config.labels, v) for v in values)
    if key == "label!":
        return lambda c: not any(_label_match(c.config.labels, v) for v in values)
    if key == "status":
        valid = ("created", "running", "paused", "stopped", "exited", "unknown", "initialized", "configured", "removing", "stopping")
        for v in values:
            if v not in valid:
                raise InvalidArgument(f"unknown container state: {v}: invalid argument")

        def status_ok(c: Any) -> bool:
            word = _display_state(c.state.status)
            if word in ("stopped", "exited"):
                return any(v in ("stopped", "exited") for v in values)
            return word in values or c.state.status in values

        return status_ok
    if key == "exited":
        codes = set()
        for v in values:
            try:
                codes.add(int(v))
            except ValueError:
                raise InvalidArgument(
                    f"exited code out of range '\\x00': strconv.ParseInt: parsing {json_quote(v)}: invalid syntax"
                ) from None
        return lambda c: c.state.status in ("stopped", "exited") and bool(c.state.finished_at) and c.state.exit_code in codes
    if key == "ancestor":

        def ancestor_ok(c: Any) -> bool:
            # podman: the full image ID, the image name as given at create time, or that name
            # without its tag when the tag is "latest" (no short-name or prefix matching)
            name = c.config.image_name or c.config.raw_image_name or ""
            base, colon, tag = name.rpartition(":")
            if not colon or "/" in tag:
                base, tag = "", ""
            return any(v and (v == c.config.image_id or v == name or (v == base and tag == "latest")) for v in values)

        return ancestor_ok
    if key == "health":
        return lambda c: (c.state.health_status or "none") in values
    if key in ("before", "since"):
        refs = [rt.get_container(v) for v in values]
        edges = [epoch(r.config.created) for r in refs]
        if key == "before":
            return lambda c: all(epoch(c.config.created) < e for e in edges)
        return lambda c: all(epoch(c.config.created) > e for e in edges)
    if key == "until":
        from pypod.cli import humanize

        limits = [humanize.parse_time(v) for v in values]
        return lambda c: all(epoch(c.config.created) < lim for lim in limits)
    if key == "pod":
        pods = set()
        for v in values:
            try:
                pods.add(rt.get_pod(v).id)
            except Exception:  # noqa: BLE001 - unknown pods match nothing
                pods.add(v)
        return lambda c: bool(c.config.pod_id) and any(c.config.pod_id.startswith(p) for p in pods)
    if key == "network":
        # podman matches network names only: "none"/"host" modes are not networks
        return lambda c: any(v in network_names(c) for v in values)
    if key == "volume":
        return lambda c: any(
            v in (m.get("name") or m.get("source") or "", m["destination"]) for m in c.config.binds + c.config.volumes for v in values
        )
    if key == "restart-policy":
        return lambda c: (c.config.restart_policy or "no") in values
    raise InvalidArgument(f"{key} is an invalid filter")


# --- the command --------------------------------------------------------------------------


def ps_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("extra", nargs="*", help=argparse_suppress())
    parser.add_argument("-a", "--all", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("-s", "--size", action="store_true")
    parser.add_argument("-l", "--latest", action="store_true")
    parser.add_argument("-n", "--last", type=int, default=-1)
    parser.add_argument("-f", "--filter", action="append", default=[])
    parser.add_argument("--format", default="")
    parser.add_argument("--no-trunc", action="store_true")
    parser.add_argument("--sort", default="created")
    parser.add_argument("--noheading", action="store_true")
    parser.add_argument("--ns", action="store_true")
    parser.add_argument("--external", action="store_true")
    parser.add_argument("-p", "--pod", action="store_true")
    parser.add_argument("-w", "--watch", default="")


def _sort_key(name: str) -> Callable[[PsRow], Any]:
    return {
        "command": lambda r: r.Command,
        "created": lambda r: r.CreatedUnix,
        "runningfor": lambda r: -r.CreatedUnix,
        "id": lambda r: r.Id,
        "image": lambda r: r.Image,
        "names": lambda r: r.Names,
        "size": lambda r: r.SizeInfo[0] if r.SizeInfo else 0,
        "status": lambda r: r.Status,
    }[name]


def _size_of(rt: Any, ctr: Any) -> tuple[int, int] | None:
    try:
        rw = rt.store.layer_size(ctr.config.rootfs_layer) if ctr.config.rootfs_layer else 0
        img = rt.images.get(ctr.config.image_id) if ctr.config.image_id else None
        return rw, rw + int(getattr(img, "size", 0) or 0)
    except Exception:  # noqa: BLE001 - size is best effort, like podman
        return 0, 0


def ps_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError

    if args.extra:
        raise UsageError("`pypod ps` takes no arguments")
    if args.sort not in SORT_KEYS:
        raise UsageError(
            f'invalid argument "{args.sort}" for "--sort" flag: "{args.sort}" is not a valid value.  '
            f'Choose from: "{", ".join(SORT_KEYS)}"'
        )
    rt = ctx.runtime
    ctrs = rt.list_containers()
    if args.filter:
        match = container_filter(rt, args.filter)
        ctrs = [c for c in ctrs if match(c)]
    show_all = args.all or bool(args.filter) or args.latest or args.last >= 0
    if not show_all:
        ctrs = [c for c in ctrs if c.state.status == "running"]
    last = 1 if args.latest else args.last
    if last >= 0:
        ctrs = sorted(ctrs, key=lambda c: epoch(c.config.created))[-last:] if last else []
    now = time.time()
    images = ImageIndex(rt)
    rows = [
        PsRow(c, images, now, no_trunc=args.no_trunc, size=_size_of(rt, c) if args.size else None) for c in ctrs
    ]
    rows.sort(key=_sort_key(args.sort))
    if args.pod or "PodName" in (args.format or ""):
        _fill_pod_names(rt, rows, no_trunc=args.no_trunc)
    if args.quiet and not args.format:  # podman: --format wins over -q
        for r in rows:
            print(r.ID)
        return 0
    fmt = args.format
    if fmt == "json":
        from pypod.cli.commands.inspect import go_json

        print(go_json([r.to_json() for r in rows], 2))
        return 0
    if not fmt and args.pod:  # podman's default columns plus the pod's
        fmt = DEFAULT_FORMAT + ("\t{{.Size}}" if args.size else "") + "\t{{.Pod}}\t{{.PodName}}"
    if not fmt:
        out = _default_table(rows, heading=not args.noheading, size=args.size)
        if out:
            sys.stdout.write(out)
        return 0
    from pypod.cli import gotemplate

    if not fmt:
        fmt = DEFAULT_FORMAT
        if args.size:
            fmt += "\t{{.Size}}"
    if args.noheading and fmt.startswith("table"):
        fmt = fmt[len("table") :].lstrip()
    out = gotemplate.render_rows(fmt, rows, HEADERS, name="ps", col_offset=gotemplate.RANGE_OFFSET)
    if out:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


DEFAULT_COLUMNS = ("ID", "Image", "Command", "CreatedHuman", "Status", "Ports", "Names")


def _fill_pod_names(rt: Any, rows: list[PsRow], *, no_trunc: bool) -> None:
    """``ps --pod``: the pod's ID (12 digits unless --no-trunc) and name of each row (one pod read)."""
    names = {pod.id: pod.name for pod in rt.pods.list()} if any(r.Pod for r in rows) else {}
    for row in rows:
        row.PodName = names.get(row.Pod, "")
        if row.Pod and not no_trunc:
            row.Pod = row.Pod[:12]


def _default_table(rows: list[PsRow], *, heading: bool, size: bool) -> str:
    """The default table without the template engine: the same text as rendering DEFAULT_FORMAT
    (each field is a plain string), at a fraction of the cost for long listings."""
    from pypod.cli.tabwriter import align_tabbed

    columns = DEFAULT_COLUMNS + (("Size",) if size else ())
    lines = ["\t".join(HEADERS[c] for c in columns)] if heading else []
    if size:
        lines += [f"{r.ID}\t{r.Image}\t{r.Command}\t{r.CreatedHuman}\t{r.Status}\t{r.Ports}\t{r.Names}\t{r.Size}" for r in rows]
    else:
        lines += [f"{r.ID}\t{r.Image}\t{r.Command}\t{r.CreatedHuman}\t{r.Status}\t{r.Ports}\t{r.Names}" for r in rows]
    if not lines:
        return ""
    text = "\n".join(lines) + "\n"
    return align_tabbed(text) if heading else text  # --noheading drops "table": no alignment (as before)


def _compact(n: int) -> str:
    """podman's `ps --size` units: "12B", "1.98MB" (no space)."""
    from pypod.cli import humanize

    return humanize.size(n).replace(" ", "")


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS
