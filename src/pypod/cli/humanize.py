"""Human-readable sizes, durations and timestamps exactly as podman prints them (go-units style)."""

from __future__ import annotations

import re
import time as _time

from pypod.errors import InvalidArgument
from pypod.libpod.timefmt import podman_time, rfc3339nano

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_MULT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_SIZE = r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$"  # patterns compile on first use (re's cache)
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
_DURATION_PART = r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)"


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


def parse_duration(value: str) -> float:
    """Go time.ParseDuration: "1m30s", "1.5h", "300ms", "-2s", "0" -> seconds; InvalidArgument on garbage."""
    text = str(value).strip()
    orig = text
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise InvalidArgument(f'time: invalid duration "{orig}"')
    total = 0.0
    pos = 0
    part = re.compile(_DURATION_PART)
    while pos < len(text):
        match = part.match(text, pos)
        if not match:
            if re.match(r"(\d+\.?\d*|\.\d+)$", text[pos:]):
                raise InvalidArgument(f'time: missing unit in duration "{orig}"')
            raise InvalidArgument(f'time: invalid duration "{orig}"')
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


_TIME_LAYOUTS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d%z",
    "%Y-%m-%d",
)
_FRACTION = r"\.(\d+)"


def parse_rfc3339(value: str) -> float:
    """RFC 3339 (nanosecond fractions allowed, "Z" or an offset) -> unix seconds; ValueError if not one."""
    text = value.strip()
    frac = 0.0
    match = re.search(_FRACTION, text)
    if match and ":" in text[: match.start()]:
        frac = float("0." + match.group(1))
        text = text[: match.start()] + text[match.end():]
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+0000"
    from datetime import datetime

    for layout in _TIME_LAYOUTS:
        try:
            parsed = datetime.strptime(text, layout)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            return parsed.timestamp() + frac  # local time, like podman
        return parsed.timestamp() + frac
    raise ValueError(value)


def parse_time(value: str, now: float | None = None) -> float:
    """--since/--until values: RFC3339, unix seconds(.nanos), or a duration meaning now - duration."""
    text = str(value).strip()
    try:
        return parse_rfc3339(text)
    except ValueError:
        pass
    if re.fullmatch(r"\d+(\.\d+)?", text):
        secs, _, nanos = text.partition(".")
        return int(secs) + (int(nanos.ljust(9, "0")[:9]) / 1e9 if nanos else 0.0)
    try:
        delta = parse_duration(text)
    except InvalidArgument:
        raise InvalidArgument(f"unable to interpret time value: {value}") from None
    return (_time.time() if now is None else now) - delta


def rfc3339_to_podman_time(value: str) -> str:
    """Re-render a stored RFC3339Nano string in Go's String form without losing nanoseconds."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?Z", value)
    if match:
        frac = (match.group(3) or "").rstrip("0")
        return f"{match.group(1)} {match.group(2)}{'' if frac == '.' else frac} +0000 UTC"
    return podman_time(parse_rfc3339(value))
