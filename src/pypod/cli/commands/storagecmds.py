"""export, commit, diff, cp, mount, umount: the container's filesystem from the outside."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from pypod.cli.common import print_error as _error

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from pypod.cli.main import Context

LIVE = ("running", "paused")
# mount points the engine creates in every container's layer: not user changes (like podman)
ENGINE_PATHS = frozenset((
    "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/run", "/run/notify",
    "/run/.containerenv", "/run/secrets", "/sys",
))


# --- export -------------------------------------------------------------------------
def export_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("-o", "--output", default="", help="Write to a specified file (default: stdout)")
    p.add_argument("container")


def export_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument

    if not args.output and os.isatty(sys.stdout.fileno()):
        raise InvalidArgument("refusing to export to terminal. Use -o flag or redirect")
    ctr = ctx.runtime.get_container(args.container)
    if not ctr.config.rootfs_layer:
        raise InvalidArgument(f"container {ctr.id} has no storage layer to export")
    store = ctx.runtime.store
    if args.output:
        tmp = f"{args.output}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb", buffering=0) as out:  # unbuffered: the export writes its descriptor
                store.export(ctr.config.rootfs_layer, out)
            _replace(tmp, args.output)
        except OSError as exc:
            raise InvalidArgument(f"{args.output}: {(exc.strerror or str(exc)).lower()}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return 0
    out = sys.stdout.buffer
    store.export(ctr.config.rootfs_layer, out)
    out.flush()
    return 0


def _replace(tmp: str, dest: str) -> None:
    """Rename ``tmp`` over ``dest`` without making the kernel write ``tmp`` out first.

    ext4 starts writing back a file that is renamed over an existing one (its guard for
    editors that replace files without fsync): for a 200 MB export, most of the command's
    time.  Swapping the two names (RENAME_EXCHANGE) and unlinking the old file is just as
    atomic for a reader of ``dest`` and skips that; anything else gets a plain rename.
    """
    import stat

    try:
        is_file = stat.S_ISREG(os.lstat(dest).st_mode)
    except OSError:
        is_file = False
    if is_file:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd, rename_exchange = -100, 2
        renameat2 = getattr(libc, "renameat2", None)
        if renameat2 is not None and renameat2(at_fdcwd, os.fsencode(tmp), at_fdcwd, os.fsencode(dest), rename_exchange) == 0:
            os.unlink(tmp)  # the old contents, now under the temporary name
            return
    os.replace(tmp, dest)


# --- commit -------------------------------------------------------------------------
def commit_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("-c", "--change", action="append", default=[], help="Apply Dockerfile instruction")
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument("-a", "--author", default="", help="Author of the image")
    p.add_argument("-p", "--pause", action="store_true", help="Pause container during commit")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress output")
    p.add_argument("-f", "--format", default="oci", help="Format of the image manifest and metadata")
    p.add_argument("--squash", action="store_true", help=argparse_suppress())
    p.add_argument("container")
    p.add_argument("image", nargs="?", default=None)


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def commit_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.libpod.commit import CommitOptions, commit_container

    rt = ctx.runtime
    ctr = rt.get_container(args.container)
    changes: list[str] = []
    for change in args.change:
        changes.append(change)
    opts = CommitOptions(
        changes=changes, message=args.message, author=args.author, pause=args.pause, format=args.format
    )
    image = commit_container(ctr, args.image, opts)
    for warning in opts.warnings:
        print(f'time="" level=warning msg="{warning}"', file=sys.stderr)
    if not args.quiet:
        print("Getting image source signatures", file=sys.stderr)
        print(f"Copying config sha256:{image.id}", file=sys.stderr)
        print("Writing manifest to image destination", file=sys.stderr)
    print(image.id)
    return 0


# --- diff ---------------------------------------------------------------------------
def diff_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("--format", default="", help="Change the output format (json)")
    p.add_argument("-l", "--latest", action="store_true", help=argparse_suppress())
    p.add_argument("names", nargs="*")


def changes_of(ctx: "Context", name: str, kind: str = "") -> list[tuple[str, str]]:
    """Changes of a container's rw layer, or of an image's top layer against its parent."""
    from pypod.errors import InvalidArgument, NoSuchLayer, NotFound

    rt = ctx.runtime
    if kind in ("", "container"):
        try:
            ctr = rt.get_container(name)
        except NotFound:
            ctr = None
        if ctr is not None:
            if not ctr.config.rootfs_layer:
                raise InvalidArgument(f"container {ctr.id} has no storage layer")
            return [c for c in rt.store.changes(ctr.config.rootfs_layer) if c[1] not in ENGINE_PATHS]
    if kind in ("", "image"):
        try:
            image = rt.images.resolve(name)
        except (NotFound, InvalidArgument):
            image = None
        if image is not None:
            if not image.top_layer:
                return []
            return rt.store.changes(image.top_layer)
    raise NoSuchLayer(f"{name} not found: layer not known")


def diff_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    import json

    from pypod.cli.main import UsageError
    from pypod.errors import InvalidArgument

    if args.format and args.format != "json":
        raise InvalidArgument("only supported value for '--format' is 'json'")
    names = list(args.names)
    if args.latest:
        ctrs = sorted(ctx.runtime.list_containers(), key=lambda c: c.config.created)
        if not ctrs:
            raise InvalidArgument("no containers to diff")
        names = [ctrs[-1].id]
    if len(names) != 1:
        raise UsageError("podman diff takes exactly one container or image name" if names else "requires exactly 1 arg")
    kind = {"container diff": "container", "image diff": "image"}.get(ctx.command, "")
    changes = changes_of(ctx, names[0], kind)
    if args.format == "json":
        groups: dict[str, list[str]] = {}
        for key, label in (("C", "changed"), ("A", "added"), ("D", "deleted")):
            paths = [p for k, p in changes if k == key]
            if paths:
                groups[label] = paths
        print(json.dumps(groups, indent=5) if groups else "{}")
        return 0
    for kind_letter, path in changes:
        print(f"{kind_letter} {path}")
    return 0


# --- cp -----------------------------------------------------------------------------
def cp_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("-a", "--archive", action="store_true", default=True, help="Chown copied files (default true)")
    p.add_argument("--overwrite", action="store_true", help="Allow to overwrite directories with non-directories")
    p.add_argument("source")
    p.add_argument("dest")


def cp_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.errors import InvalidArgument
    from pypod.libpod import ctrcp

    rt = ctx.runtime
    src = ctrcp.parse_endpoint(rt, args.source)
    dest = ctrcp.parse_endpoint(rt, args.dest)
    if src.container is None and dest.container is None:
        if src.is_stream or dest.is_stream:
            raise InvalidArgument("one of source or destination must be a container path when using -")
        raise InvalidArgument("copying between two host paths is not supported: one side must be CONTAINER:PATH")
    if src.container is not None and dest.container is not None:
        raise InvalidArgument("copying between containers is not supported")
    ctrcp.copy(src, dest, stdin=sys.stdin.buffer, stdout=sys.stdout.buffer)
    return 0


# --- mount / umount -----------------------------------------------------------------
def mount_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("-a", "--all", action="store_true", help="Mount all containers")
    p.add_argument("--format", default="", help="Print the mounted containers in the specified format (json)")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("-l", "--latest", action="store_true", help=argparse_suppress())
    p.add_argument("names", nargs="*")


def _mounted_list(ctx: "Context") -> list[tuple[Any, str]]:
    store = ctx.runtime.store
    out = []
    for ctr in ctx.runtime.list_containers():
        layer = ctr.config.rootfs_layer
        if layer and store.is_mounted(layer):
            out.append((ctr, store._merged(layer)))  # noqa: SLF001 - the Store's own path rule
    return out


def mount_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    import json

    from pypod.errors import InvalidArgument, PypodError

    rt = ctx.runtime
    if args.format and args.format != "json":
        raise InvalidArgument("unknown --format argument: only json is supported")
    if not args.names and not args.all:
        mounted = _mounted_list(ctx)
        if args.format == "json":
            print(json.dumps([{"id": c.id, "Names": [c.name], "mountpoint": path} for c, path in mounted], indent=4))
            return 0
        for ctr, path in mounted:
            print(f"{ctr.id if args.no_trunc else ctr.id[:12]}  {path}")
        return 0
    targets: list[tuple[str, Any]] = (
        [(c.id, c) for c in rt.list_containers()] if args.all else [(n, None) for n in args.names]
    )
    code = 0
    results = []
    for label, ctr in targets:
        try:
            if ctr is None:
                ctr = rt.get_container(label)
            if not ctr.config.rootfs_layer:
                raise InvalidArgument(f"container {ctr.id} has no storage layer to mount")
            with ctr.lock():
                path = rt.store.mount(ctr.config.rootfs_layer)
            ctr.event("mount")
            results.append((ctr, path))
        except PypodError as exc:
            _error(exc)
            code = exc.exit_code
    if args.format == "json":
        print(json.dumps([{"id": c.id, "Names": [c.name], "mountpoint": p} for c, p in results], indent=4))
    else:
        for _ctr, path in results:
            print(path)
    return code


def umount_args(p: "argparse.ArgumentParser") -> None:
    p.add_argument("-a", "--all", action="store_true", help="Umount all of the currently mounted containers")
    p.add_argument("-f", "--force", action="store_true", help="Force the complete umount of all of the currently mounted containers")
    p.add_argument("-l", "--latest", action="store_true", help=argparse_suppress())
    p.add_argument("names", nargs="*")


def unmount_container(ctx: "Context", ctr: Any, force: bool) -> None:
    """Drop the mount reference `pypod mount` took (all with ``force``); never under a live container."""
    from pypod.errors import InvalidArgument, InvalidState

    store = ctx.runtime.store
    layer = ctr.config.rootfs_layer
    if not layer:
        raise InvalidArgument(f"container {ctr.id} has no storage layer to unmount")
    with ctr.lock():
        from pypod.libpod.container import lifecycle

        lifecycle.sync(ctr)
        if not store.is_mounted(layer):
            return
        own = 1 if ctr.state.mounted else 0  # the container's own (lifecycle) reference
        user_refs = store._read_count(layer) - own  # noqa: SLF001 - the Store keeps the count
        if user_refs <= 0:
            if ctr.state.status in LIVE:
                raise InvalidState(
                    f"cannot unmount container {ctr.id} as it is running or paused: container state improper"
                )
            if own:
                return
            store.unmount(layer, force=True)
        else:
            for _ in range(user_refs if force else 1):
                store.unmount(layer)
    ctr.event("unmount")


def umount_cmd(args: "argparse.Namespace", ctx: "Context") -> int:
    from pypod.cli.main import UsageError
    from pypod.errors import PypodError

    rt = ctx.runtime
    if args.all:
        if args.names:
            raise UsageError("when using the --all switch, you may not pass any container IDs")
        targets: list[tuple[str, Any]] = [(c.id, c) for c, _p in _mounted_list(ctx)]
    else:
        if not args.names:
            raise UsageError("container ID must be specified")
        targets = [(n, None) for n in args.names]
    code = 0
    for label, ctr in targets:
        try:
            if ctr is None:
                ctr = rt.get_container(label)
            unmount_container(ctx, ctr, args.force)
            print(label)
        except PypodError as exc:
            _error(exc)
            code = exc.exit_code
    return code
