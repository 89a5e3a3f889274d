"""Image commands: images, image inspect, tag, untag, rmi, image prune, history, image exists,
load, save and import."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any
    import argparse

    from pypod.cli.main import Context
    from pypod.libpod.storage.images import Image


def _out(text: str) -> None:
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _event(ctx: "Context", status: str, image_id: str, name: str = "") -> None:
    """Best-effort image event (the event log is someone else's module)."""
    try:
        ctx.runtime.events.write("image", status, id=image_id, name=name)
    except Exception:  # noqa: BLE001 - events never fail a command
        pass


def _timestamp(created: str) -> float:
    from pypod.libpod.timefmt import epoch_seconds

    return epoch_seconds(created)


def _format_rows(fmt: str, rows: list[Any], headers: dict[str, str]) -> str:
    from pypod.cli import gotemplate

    if not fmt.endswith("\n") and not gotemplate.is_table(fmt):
        fmt = fmt.replace("\\n", "\n").replace("\\t", "\t")
    return gotemplate.render_rows(fmt, rows, headers)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=4, ensure_ascii=False)


# --- images ------------------------------------------------------------------
class ImageRow:
    """One line of ``pypod images``: attributes are the --format fields."""

    def __init__(self, image: "Image", name: str | None, containers: int, no_trunc: bool) -> None:
        from pypod.cli import humanize
        from pypod.libpod.storage import reference as refs

        self.image = image
        if name:
            self.Repository, self.Tag = refs.split_name(name)
        else:
            self.Repository, self.Tag = "<none>", "<none>"
        self.ID = f"sha256:{image.id}" if no_trunc else image.id[:12]
        self.Id = image.id
        self.Digest = image.digest
        ts = _timestamp(image.created)
        self.created_ts = ts
        self.CreatedSince = humanize.ago(ts)
        self.Created = self.CreatedSince
        self.CreatedAt = _podman_time(ts)
        self.CreatedTime = self.CreatedAt
        self.Size = humanize.size(image.size)
        self.VirtualSize = str(image.size)
        self.SharedSize = "0"
        self.UniqueSize = str(image.size)
        self.Containers = str(containers)
        self.Names = list(image.names)
        self.Labels = image.labels
        self.ReadOnly = False
        self.IsReadOnly = False
        self.Dangling = image.dangling
        self.History = ", ".join(reversed(image.names_history))
        self.Digests = [f"{n.split(':')[0]}@{image.digest}" for n in image.names]

    @property
    def size_bytes(self) -> int:
        return self.image.size


class BriefRow:
    """A line of the default ``images`` table (and of ``-q``), made from the images.json record alone."""

    def __init__(self, record: dict[str, Any], name: str | None, no_trunc: bool) -> None:
        from pypod.cli import humanize

        if name:  # a stored (validated, normalized) name without a digest: [domain/]path[:tag]
            colon = name.rfind(":")
            if colon > name.rfind("/"):
                self.Repository, self.Tag = name[:colon], name[colon + 1 :] or "<none>"
            else:
                self.Repository, self.Tag = name, "<none>"
        else:
            self.Repository, self.Tag = "<none>", "<none>"
        image_id = record["id"]
        self.ID = f"sha256:{image_id}" if no_trunc else image_id[:12]
        self.Id = image_id
        self.Digest = record.get("digest", "")
        self.created_ts = _timestamp(record["image-created"])
        self.CreatedSince = humanize.ago(self.created_ts)
        self.size_bytes = int(record["size"])
        self.Size = humanize.size(self.size_bytes)


def _brief_rows(storage_root: str, no_trunc: bool) -> list[BriefRow] | None:
    """Rows read from ``overlay-images/images.json`` only (no layer store, manifest or config);
    None when a record lacks the stored size or creation time (written by an older pypod) or
    the file cannot be read: the full listing then computes them."""
    import json
    import os

    path = os.path.join(storage_root, "overlay-images", "images.json")
    try:
        with open(path, "rb") as f:
            records = json.load(f)
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return None
    if not isinstance(records, list):
        return None
    rows: list[BriefRow] = []
    for record in records:
        if not isinstance(record.get("size"), int) or "image-created" not in record:
            return None
        names = [n for n in record.get("names") or [] if "@" not in n] or [None]
        rows.extend(BriefRow(record, name, no_trunc) for name in names)
    return rows


def _podman_time(ts: float) -> str:
    try:
        from pypod.cli import humanize

        return humanize.podman_time(ts)
    except Exception:  # noqa: BLE001
        from datetime import datetime, timezone

        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def images_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("words", nargs="*", metavar="IMAGE", help="show images matching this reference")
    parser.add_argument("-a", "--all", action="store_true", help="show all images (intermediate too)")
    parser.add_argument("--digests", action="store_true", help="show digests")
    parser.add_argument("-f", "--filter", action="append", default=[], help="filter output (key=value)")
    parser.add_argument("--format", default="", help="Go template or json")
    parser.add_argument("-n", "--noheading", action="store_true", help="do not print column headings")
    parser.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="display only image IDs")
    parser.add_argument("--sort", default="created", help="sort by created, id, repository, size or tag")


_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def _image_filter(ctx: "Context", filters: list[str]) -> Any:
    import fnmatch

    from pypod.errors import InvalidArgument

    checks = []
    for item in filters:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(
                f'invalid image filter "{item}": must be in the format "filter=value or filter!=value"'
            )
        if key == "reference":
            pattern = value

            def ref_ok(img: "Image", name: str | None, pattern: str = pattern) -> bool:
                if name is None:
                    return False
                short = name.split("/", 1)[1] if "/" in name else name
                candidates = [name, short, name.rsplit(":", 1)[0], short.rsplit(":", 1)[0]]
                return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)

            checks.append(ref_ok)
        elif key == "dangling":
            if value not in _GO_BOOLS:
                raise InvalidArgument(
                    f'non-boolean value "{key}" for {value} filter: strconv.ParseBool: parsing "{value}": invalid syntax'
                )
            want = _GO_BOOLS[value]
            checks.append(lambda img, name, want=want: img.dangling == want)
        elif key == "label":
            lkey, leq, lvalue = value.partition("=")
            checks.append(
                lambda img, name, k=lkey, e=leq, v=lvalue: k in img.labels and (not e or img.labels[k] == v)
            )
        elif key in ("before", "since"):
            from pypod.errors import NoSuchImage

            try:
                ref_ts = _timestamp(ctx.runtime.images.resolve(value).created)
            except NoSuchImage as err:
                raise InvalidArgument(
                    f'could not find local image for filter filter "{key}"="{value}": {err}'
                ) from err
            if key == "before":
                checks.append(lambda img, name, t=ref_ts: _timestamp(img.created) < t)
            else:
                checks.append(lambda img, name, t=ref_ts: _timestamp(img.created) > t)
        elif key == "id":
            checks.append(lambda img, name, v=value.removeprefix("sha256:"): img.id.startswith(v))
        elif key == "readonly":
            checks.append(lambda img, name, v=value: v.lower() in ("false", "0"))
        else:
            raise InvalidArgument(f'unsupported image filter "{key}"')
    return lambda img, name: all(check(img, name) for check in checks)


def images_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import check_args
    from pypod.errors import InvalidArgument

    check_args(args.words, at_most=1)
    args.image = args.words[0] if args.words else None

    rt = ctx.runtime
    rows: list[Any] | None = None
    if not args.filter and not args.image and not args.format:
        # the default table and -q: images.json holds all they show (no layer store, no image files)
        # still refuses a root created with other paths or another storage driver: by the
        # database's mirrored dbconfig when there is one (no SQLite to load), else by the database
        from pypod.libpod.state import dbconfig

        cfg = rt.config
        if not dbconfig.matches(cfg.db_path, (cfg.root, cfg.runroot, cfg.storage_driver)):
            _ = rt.db
        rows = _brief_rows(rt.config.storage_root, args.no_trunc)
    if rows is None:
        rows = _full_rows(ctx, args)
    sort_keys = {
        "created": lambda r: -r.created_ts,
        "id": lambda r: r.Id,
        "repository": lambda r: (r.Repository, r.Tag),
        "tag": lambda r: r.Tag,
        "size": lambda r: r.size_bytes,
    }
    if args.sort not in sort_keys:
        raise InvalidArgument(
            f'"{args.sort}" is not a valid field for sorting. Choose from: {", ".join(sorted(sort_keys))}'
        )
    rows.sort(key=sort_keys[args.sort])
    if args.quiet:
        seen: list[str] = []
        for row in rows:
            if row.ID not in seen:
                seen.append(row.ID)
        _out("\n".join(seen))
        return 0
    fmt = args.format
    if fmt in ("json", "{{json .}}"):
        from pypod.libpod import imageops

        try:
            users = imageops.containers_by_image(rt)
        except Exception:  # noqa: BLE001 - no database yet: no containers
            users = {}
        docs = []
        for row in rows:
            img = row.image
            docs.append({
                "Id": img.id, "ParentId": "", "RepoTags": None,
                "RepoDigests": imageops.repo_digests(img), "Size": img.size, "SharedSize": 0,
                "VirtualSize": img.size, "Labels": img.labels or None, "Containers": len(users.get(img.id, [])),
                "Names": img.names or None, "Digest": img.digest, "History": img.names_history or None,
                "Created": int(row.created_ts), "CreatedAt": _rfc3339(row.created_ts),
            })
        _out(_json(docs))
        return 0
    if fmt:
        headers = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Created": "CREATED",
                   "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Digest": "DIGEST",
                   "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "Containers": "CONTAINERS",
                   "Names": "NAMES", "Labels": "LABELS", "ReadOnly": "R/O", "History": "HISTORY"}
        if args.noheading and fmt.startswith("table"):
            fmt = fmt[len("table"):].lstrip()
        _out(_format_rows(fmt, rows, headers))
        return 0
    from pypod.cli.tabwriter import format_table

    header = ["REPOSITORY", "TAG"] + (["DIGEST"] if args.digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
    table = [] if args.noheading else [header]
    for row in rows:
        table.append([row.Repository, row.Tag] + ([row.Digest] if args.digests else [])
                     + [row.ID, row.CreatedSince, row.Size])
    sys.stdout.write(format_table(table))
    return 0


def _full_rows(ctx: "Context", args: "argparse.Namespace") -> list[ImageRow]:
    """Rows of whole images (config, manifest, container counts), filtered."""
    from pypod.libpod import imageops

    rt = ctx.runtime
    all_images = rt.images.list()
    filters = list(args.filter)
    if args.image:
        filters.append(f"reference={args.image}")
    keep = _image_filter(ctx, filters)
    try:
        users = imageops.containers_by_image(rt)
    except Exception:  # noqa: BLE001 - no database yet: no containers
        users = {}
    rows: list[ImageRow] = []
    for image in all_images:
        names = imageops.repo_tags(image) or [None]
        for name in names:
            if keep(image, name):
                rows.append(ImageRow(image, name, len(users.get(image.id, [])), args.no_trunc))
    return rows


def _rfc3339(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def go_time(value: Any) -> Any:
    """An RFC 3339 time as Go prints it: no trailing zeros in the fraction ("...51.34268Z")."""
    import re

    if not isinstance(value, str):
        return value
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
    if not m:
        return value
    frac = (m.group(2) or "").rstrip("0")
    return m.group(1) + ("" if frac == "." else frac) + m.group(3)


def go_times(doc: dict[str, Any]) -> dict[str, Any]:
    """Image inspect data with its times in Go's format, like podman re-encodes them."""
    if "Created" in doc:
        doc["Created"] = go_time(doc["Created"])
    for entry in doc.get("History") or []:
        if isinstance(entry, dict) and "created" in entry:
            entry["created"] = go_time(entry["created"])
    return doc


# --- image inspect -----------------------------------------------------------
def image_inspect_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("images", nargs="*", metavar="IMAGE")
    parser.add_argument("-f", "--format", default="json", help="Go template or json")


def image_inspect_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError
    from pypod.errors import PypodError
    from pypod.libpod import imageops

    if not args.images:
        raise UsageError("no names or ids specified")

    rt = ctx.runtime
    docs = []
    errors: list[PypodError] = []
    for ref in args.images:
        try:
            docs.append(go_times(imageops.inspect_image(rt.images.resolve(ref), rt.store)))
        except PypodError as exc:
            errors.append(type(exc)(f"inspecting object: {exc}", exit_code=exc.exit_code))
    if args.format in ("json", ""):
        _out(_json_podman(docs))
    else:
        from pypod.cli import gotemplate

        fmt = args.format.replace("\\n", "\n").replace("\\t", "\t")
        for doc in docs:
            _out(gotemplate.render(fmt, doc))
    for exc in errors[:-1]:
        _err(f"Error: {exc}")
    if errors:
        raise errors[-1]
    return 0


def _json_podman(value: Any) -> str:
    from pypod.cli.commands.inspect import go_json

    return go_json(value, 5)


# --- tag / untag -------------------------------------------------------------
def tag_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("words", nargs="*", metavar="IMAGE TARGET_NAME")


def tag_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import check_args
    from pypod.libpod.storage import reference as refs

    check_args(args.words, at_least=2)
    args.image, args.targets = args.words[0], args.words[1:]

    images = ctx.runtime.images
    image = images.resolve(args.image)
    from pypod.errors import InvalidArgument

    for target in args.targets:
        try:
            refs.parse(target)
        except InvalidArgument as exc:
            raise InvalidArgument(f'normalizing name "{target}": normalizing name "{target}": {exc}') from None
    for target in args.targets:
        name = images.tag(image, target)
        _event(ctx, "tag", image.id, name)
    return 0


def untag_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("words", nargs="*", metavar="IMAGE NAME")


def untag_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import check_args

    check_args(args.words, at_least=1)
    args.image, args.names = args.words[0], args.words[1:]
    images = ctx.runtime.images
    image = images.resolve(args.image)
    for name in args.names or list(image.names):
        full = images.untag(image, name)
        _event(ctx, "untag", image.id, full)
    return 0


# --- rmi / prune -------------------------------------------------------------
def rmi_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("images", nargs="*", metavar="IMAGE")
    parser.add_argument("-a", "--all", action="store_true", help="remove all images")
    parser.add_argument("-f", "--force", action="store_true", help="force removal (and of containers using it)")
    parser.add_argument("-i", "--ignore", action="store_true", help="ignore errors if an image does not exist")


def rmi_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument, NoSuchImage
    from pypod.libpod import imageops

    if args.all and args.images:
        raise InvalidArgument("when using the --all switch, you may not pass any images names or IDs")
    if not args.all and not args.images:
        raise InvalidArgument("image name or ID must be specified")
    report = imageops.remove_images(ctx.runtime, args.images, force=args.force, all=args.all)
    lines = [f"Untagged: {n}" for n in report.untagged] + [f"Deleted: {i}" for i in report.deleted]
    _out("\n".join(lines))
    for image_id in report.deleted:
        _event(ctx, "remove", image_id)
    errors = [e for e in report.errors if not (args.ignore and isinstance(e, NoSuchImage))]
    if len(errors) == 1:
        _err(f"Error: {errors[0]}")
    elif errors:
        _err(f"Error: {len(errors)} errors occurred:\n" + "\n".join(f"\t* {exc}" for exc in errors))
    codes = [exc.exit_code for exc in errors]
    # podman: an image in use wins (2), then a missing image (1), else the engine error
    for code in (2, 1):
        if code in codes:
            return code
    return codes[-1] if codes else 0


_PRUNE_FILTERS = frozenset(
    ("before", "since", "containers", "dangling", "id", "label", "readonly", "reference", "until", "intermediate")
)


def _prune_check(key: str, value: str) -> Any:
    """One ``image prune --filter``: a test an image must pass to be pruned."""
    if key in ("label", "label!"):
        lkey, leq, lvalue = value.partition("=")

        def has_label(img: "Image") -> bool:
            labels = img.labels or {}
            return lkey in labels and (not leq or labels[lkey] == lvalue)

        return has_label if key == "label" else (lambda img: not has_label(img))
    if key == "until":
        from pypod.cli import humanize

        limit = humanize.parse_time(value)
        return lambda img: _timestamp(img.created) < limit
    return lambda img: True


def image_prune_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-a", "--all", action="store_true", help="remove all unused images, not just dangling ones")
    parser.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    parser.add_argument("--filter", action="append", default=[], help="(accepted, not applied)")


def image_prune_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument
    from pypod.libpod import imageops

    checks = []
    for item in args.filter:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"filter input must be in the form of filter=value: {item} is invalid")
        if key.rstrip("!") not in _PRUNE_FILTERS:
            raise InvalidArgument(f'unsupported image filter "{key}"')
        checks.append(_prune_check(key, value))
    keep = (lambda img: not all(check(img) for check in checks)) if checks else None
    if not args.force:
        what = "all images without at least one container associated to them" if args.all else "all dangling images"
        sys.stdout.write(f"WARNING! This command removes {what}.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    deleted = imageops.prune_images(ctx.runtime, all=args.all, keep=keep)
    for image_id in deleted:
        _event(ctx, "prune", image_id)
    _out("\n".join(deleted))
    return 0


# --- history -----------------------------------------------------------------
class HistoryRow:
    def __init__(self, row: dict[str, Any], human: bool, no_trunc: bool) -> None:
        from pypod.cli import humanize

        self.raw = row
        image_id = row["id"]
        self.ID = image_id if (no_trunc or image_id == "<missing>") else image_id[:12]
        ts = _timestamp(row["created"]) if row["created"] else 0.0
        self.Created = humanize.ago(ts) if human else _rfc3339(ts)
        self.CreatedAt = _rfc3339(ts)
        self.CreatedSince = humanize.ago(ts)
        created_by = row["created_by"]
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:42] + "..."
        self.CreatedBy = created_by
        self.Size = humanize.size(row["size"])
        self.Comment = row["comment"]
        self.Tags = " ".join(row["tags"]) if row["tags"] else "<none>"


def history_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("words", nargs="*", metavar="IMAGE")
    parser.add_argument("--format", default="", help="Go template or json")
    parser.add_argument("-H", "--human", default="true", nargs="?", const="true",
                        help="display sizes and dates in human readable format")
    parser.add_argument("--no-trunc", "--notruncate", action="store_true", help="do not truncate the output")
    parser.add_argument("-q", "--quiet", action="store_true", help="display the numeric IDs only")


def history_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import check_args
    from pypod.libpod import imageops

    check_args(args.words, exactly=1)
    args.image = args.words[0]

    rt = ctx.runtime
    image = rt.images.resolve(args.image)
    raw = imageops.history(image, rt.store)
    human = str(args.human).lower() not in ("false", "0")
    rows = [HistoryRow(r, human, args.no_trunc) for r in raw]
    if args.quiet:
        _out("\n".join(r.ID for r in rows))
        return 0
    if args.format == "json":
        docs = []
        for r in raw:
            docs.append({"id": r["id"], "created": r["created"], "CreatedBy": r["created_by"], "size": r["size"],
                         "comment": r["comment"], "Created": _rfc3339(_timestamp(r["created"]))})
        import json

        _out(json.dumps(docs, separators=(",", ":")))
        return 0
    if args.format:
        headers = {"ID": "ID", "Created": "CREATED", "CreatedBy": "CREATED BY", "Size": "SIZE",
                   "Comment": "COMMENT", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Tags": "TAGS"}
        _out(_format_rows(args.format, rows, headers))
        return 0
    from pypod.cli.tabwriter import format_table

    table = [["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
    table += [[r.ID, r.Created, r.CreatedBy, r.Size, r.Comment] for r in rows]
    sys.stdout.write(format_table(table))
    return 0


# --- image exists ------------------------------------------------------------
def image_exists_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("words", nargs="*", metavar="IMAGE")


def image_exists_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import check_args
    from pypod.errors import InvalidArgument, NoSuchImage

    check_args(args.words, exactly=1)
    args.image = args.words[0]

    try:
        ctx.runtime.images.resolve(args.image)
    except (NoSuchImage, InvalidArgument):
        return 1
    return 0


# --- load / save / import ----------------------------------------------------
def load_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("-i", "--input", default="", help="read from a tar archive file instead of stdin")
    parser.add_argument("-q", "--quiet", action="store_true", help="suppress the progress output")
    parser.add_argument("--signature-policy", default="", help=argparse_suppress())


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def load_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument
    from pypod.libpod.storage import transports

    images = ctx.runtime.images
    if not args.input and sys.stdin.isatty():
        raise InvalidArgument("cannot read from terminal, use command-line redirection or the --input flag")
    try:
        names = transports.load(images, args.input or sys.stdin.buffer)
    except BaseException:
        from pypod.libpod import imageops

        imageops.collect_layers(ctx.runtime)  # layers of earlier killed loads too (D7)
        raise
    for name in names:
        _event(ctx, "loadfromarchive", "", name)
    _out("\n".join(f"Loaded image: {n}" for n in names))
    return 0


def save_args(parser: "argparse.ArgumentParser") -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("-o", "--output", default="", help="write to a file (default: stdout)")
    parser.add_argument("--format", default="docker-archive", help="docker-archive or oci-archive")
    parser.add_argument("-m", "--multi-image-archive", action="store_true", help="(several images are always allowed)")
    parser.add_argument("-q", "--quiet", action="store_true", help="suppress the output")
    parser.add_argument("--compress", action="store_true", help="(accepted for dir formats only)")
    parser.add_argument("--uncompressed", action="store_true", help="(layers are always uncompressed)")


def save_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument
    from pypod.libpod.imageops import _matching_name
    from pypod.libpod.storage import transports

    if args.format not in ("docker-archive", "oci-archive"):
        if args.format in ("oci-dir", "docker-dir"):
            raise InvalidArgument(f"unsupported format {args.format!r} for save: use docker-archive or oci-archive")
        raise InvalidArgument("format value must be one of oci-dir oci-archive docker-dir docker-archive")
    images = ctx.runtime.images
    items = []
    for ref in args.images:
        image = images.resolve(ref)
        name = _matching_name(image, ref)
        items.append((image, [name] if name else []))
    if args.output:
        import os

        out_dir = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(out_dir):
            raise InvalidArgument(
                f"opening file {args.output!r}: open {args.output}: no such file or directory".replace("'", '"', 2)
            )
        if args.format == "docker-archive" and os.path.isfile(args.output) and os.path.getsize(args.output) > 0:
            raise InvalidArgument("docker-archive doesn't support modifying existing images")
        transports.save(images, items, args.output, args.format)
    else:
        if sys.stdout.isatty():
            raise InvalidArgument("refusing to save to terminal. Use -o flag or redirect")
        sys.stdout.flush()
        transports.save(images, items, sys.stdout.buffer, args.format)
        sys.stdout.buffer.flush()
    for image, _names in items:
        _event(ctx, "save", image.id)
    return 0


def import_args(parser: "argparse.ArgumentParser") -> None:
    # flags may come between PATH and REFERENCE (as with cobra): parse intermixed
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
    parser.add_argument("words", nargs="*", metavar="PATH [REFERENCE]", help="tarball path or - for stdin")
    parser.add_argument("-c", "--change", action="append", default=[], help="apply a Dockerfile instruction")
    parser.add_argument("-m", "--message", default="", help="commit message for the imported image")
    parser.add_argument("-q", "--quiet", action="store_true", help="display only the image ID")
    parser.add_argument("--os", default="", help=argparse_suppress())
    parser.add_argument("--arch", default="", help=argparse_suppress())
    parser.add_argument("--variant", default="", help=argparse_suppress())


def import_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    import os
    import time

    from pypod.cli.main import UsageError
    from pypod.errors import InvalidArgument
    from pypod.libpod.storage import transports

    if not 1 <= len(args.words) <= 2:
        raise UsageError(f"accepts between 1 and 2 arg(s), received {len(args.words)}")
    args.source, args.reference = args.words[0], (args.words[1:] or [None])[0]
    if args.source.startswith(("http://", "https://")):
        raise InvalidArgument("importing from a URL is not supported (no registry or network access)")
    if args.reference:
        from pypod.libpod.storage import reference as refs

        try:
            refs.normalize_name(args.reference)
        except InvalidArgument as err:
            raise InvalidArgument(
                f'normalizing name "{args.reference}": normalizing name "{args.reference}": {err}'
            ) from err
    source: Any
    # like podman, a file's image is created at the file's modification time (whole seconds),
    # so importing the same file twice gives the same image
    stamp = int(time.time())
    if args.source == "-":
        source = sys.stdin.buffer
    else:
        if not os.path.exists(args.source):
            raise InvalidArgument(f'error opening "{args.source}": open {args.source}: no such file or directory')
        if os.path.isdir(args.source):
            raise InvalidArgument(f'error reading "{args.source}": read {args.source}: is a directory')
        source = args.source
        stamp = int(os.stat(args.source).st_mtime)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    image = transports.import_rootfs(
        ctx.runtime.images, source, args.reference, args.change, args.message, created=created
    )
    _event(ctx, "import", image.id, image.names[0] if image.names else "")
    _out(f"sha256:{image.id}")
    return 0
