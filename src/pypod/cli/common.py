"""Small helpers shared by the command modules: the error line and the ``-t/--time`` flag."""

from __future__ import annotations

import sys


def print_error(exc: BaseException) -> None:
    """``Error: <msg>`` on stderr, as podman reports one failed item and goes on."""
    print(f"Error: {exc}", file=sys.stderr)


def parse_stop_timeout(value: str | None) -> int | None:
    """The ``-t/--time`` seconds (None when not given); podman's message for a non-number."""
    from pypod.errors import InvalidArgument

    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(
            f'invalid argument "{value}" for "-t, --time" flag: strconv.ParseUint: parsing "{value}": invalid syntax'
        ) from None
