"""Boolean flags read as podman (pflag) reads them."""

from __future__ import annotations

import pytest

from pypod.cli.main import UsageError, _make_parser


def create_parser():  # type: ignore[no-untyped-def]
    from pypod.cli.createflags import add_create_flags

    parser = _make_parser("pypod run", "Run a command in a new container")
    add_create_flags(parser, run=True)
    return parser


@pytest.mark.parametrize(
    ("argv", "rm", "detach", "image", "command"),
    [
        (["--rm", "busybox", "true"], True, False, "busybox", ["true"]),
        (["--rm=false", "busybox"], False, False, "busybox", []),
        (["--rm=true", "--detach=0", "busybox"], True, False, "busybox", []),
        (["--detach=True", "busybox", "sh", "--rm=false"], False, True, "busybox", ["sh", "--rm=false"]),
        (["-dp", "8080:80", "busybox"], False, True, "busybox", []),
        (["--name", "x", "--rm=f", "-it", "busybox"], False, False, "busybox", []),
    ],
)
def test_switches_take_true_and_false(argv, rm, detach, image, command) -> None:  # type: ignore[no-untyped-def]
    args = create_parser().parse_args(argv)
    assert (args.rm, args.detach, args.image, args.command) == (rm, detach, image, command)


def test_valued_booleans_never_swallow_the_image() -> None:
    args = create_parser().parse_args(["--read-only-tmpfs", "--sig-proxy", "busybox", "true"])
    assert (args.read_only_tmpfs, args.sig_proxy, args.image, args.command) == ("true", "true", "busybox", ["true"])
    args = create_parser().parse_args(["--read-only-tmpfs=false", "--sig-proxy=false", "busybox"])
    assert (args.read_only_tmpfs, args.sig_proxy) == ("false", "false")
    args = create_parser().parse_args(["busybox", "echo", "--sig-proxy"])  # the command's own word
    assert args.command == ["echo", "--sig-proxy"]


def test_a_bad_boolean_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match='invalid argument "maybe" for "--rm" flag: strconv.ParseBool'):
        create_parser().parse_args(["--rm=maybe", "busybox"])
