"""Human-readable sizes, durations and timestamps exactly as podman prints them (go-units style)."""

from __future__ import annotations

import re
import time as _time

from pypod.errors import InvalidArgument
from pypod.libpod.timefmt import (  # noqa: F401 - the time parsers live in libpod; re-exported for the CLI
    parse_duration,
    parse_rfc3339,
    podman_time,
    rfc3339_to_podman_time,
    rfc3339nano,
)
from pypod.libpod.timefmt import parse_since as parse_time  # noqa: F401

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_MULT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_SIZE = r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$"  # patterns compile on first use (re's cache)


def _go_g(value: float, precision: int) -> str:
    """Go's ``%.<p>g`` (same as Python's for the values sizes produce)."""
    return format(value, f".{precision}g")


def size(n: int | float, precision: int = 3) -> str:
    """Decimal size with 3 significant digits and a space: "0 B", "4.1 kB", "1.23 MB" (podman's tables)."""
    value = float(n)
    i = 0
    while value >= 1000 and i < len(_DECIMAL_UNITS) - 1:
        value /= 1000
        i += 1
    return f"{_go_g(value, precision)} {_DECIMAL_UNITS[i]}"


def duration(seconds: float) -> str:
    """go-units HumanDuration: "Less than a second", "1 second", "About a minute", "2 hours"..."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def ago(ts: float, now: float | None = None) -> str:
    """``duration(now - ts) + " ago"``."""
    if now is None:
        now = _time.time()
    return duration(now - ts) + " ago"


def parse_size(value: str) -> int:
    """"64m" -> 67108864 (b, k, m, g, t, p; binary units like podman's RAMInBytes); InvalidArgument on garbage."""
    match = re.match(_SIZE, str(value).strip())
    if not match:
        raise InvalidArgument(f"invalid size: '{value}'")
    number = float(match.group(1)) if match.group(1).count(".") <= 1 else None
    if number is None:
        raise InvalidArgument(f"invalid size: '{value}'")
    unit = (match.group(2) or "").lower()
    return int(number * _BINARY_MULT[unit])
