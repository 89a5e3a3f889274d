"""The timestamps pypod stores and prints, in one place (all UTC)."""

from __future__ import annotations

import time

from pypod.errors import InvalidArgument

TYPE_CHECKING = False  # mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

# `datetime` costs ~1 ms of import per command: formatting uses time.gmtime, parsing plain
# arithmetic; only parse_time (which returns a datetime) imports it.


def _split_ts(ts: float | int) -> tuple[int, int]:
    """(whole seconds, nanoseconds); ints above 1e15 are nanoseconds."""
    if isinstance(ts, int) and ts > 10**15:
        secs, nanos = divmod(ts, 10**9)
    else:
        secs = int(ts // 1)
        nanos = int(round((ts - secs) * 1e9))
        if nanos >= 10**9:
            secs, nanos = secs + 1, nanos - 10**9
    return secs, nanos


def _utc(secs: int, layout: str) -> str:
    return time.strftime(layout, time.gmtime(secs))


def _fraction(nanos: int) -> str:
    return ("." + f"{nanos:09d}".rstrip("0")) if nanos else ""


def rfc3339nano(ts: float | int) -> str:
    """Go's RFC3339Nano: "2024-01-02T15:04:05.123456789Z" (trailing zeros of the fraction dropped)."""
    secs, nanos = _split_ts(ts)
    return _utc(secs, "%Y-%m-%dT%H:%M:%S") + _fraction(nanos) + "Z"


def podman_time(ts: float | int) -> str:
    """Go's time.Time String in UTC: "2024-01-02 15:04:05.123456789 +0000 UTC"."""
    secs, nanos = _split_ts(ts)
    return _utc(secs, "%Y-%m-%d %H:%M:%S") + _fraction(nanos) + " +0000 UTC"


def rfc3339_fixed(ns: int) -> str:
    """Nanoseconds since the epoch as "2006-01-02T15:04:05.000000000Z" (always 9 digits: sorts as text)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    return f"{_utc(seconds, '%Y-%m-%dT%H:%M:%S')}.{frac:09d}Z"


def now_rfc3339() -> str:
    """Now, as container and pod states record it (:func:`rfc3339_fixed`)."""
    return rfc3339_fixed(time.time_ns())


def now_rfc3339_micro() -> str:
    """Now with microseconds, as image and network records keep their creation time."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return f"{_utc(seconds, '%Y-%m-%dT%H:%M:%S')}.{nanos // 1000:06d}Z"


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def epoch_seconds(text: str) -> float:
    """RFC 3339 ("2024-01-02T15:04:05.123456789Z", "+01:00" offsets) -> seconds since the epoch.

    0.0 for "" or text that is not such a time stamp (the listings' "unknown" time).
    """
    text = (text or "").strip()
    if len(text) < 19 or text[4] != "-" or text[7] != "-" or text[10] not in "Tt " or text[13] != ":":
        return 0.0
    try:
        secs = _days_from_civil(int(text[0:4]), int(text[5:7]), int(text[8:10])) * 86400
        secs += int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
        rest = text[19:]
        frac = 0.0
        if rest[:1] == ".":
            digits = len(rest) - len(rest[1:].lstrip("0123456789"))
            frac = float("0" + rest[:digits]) if digits > 1 else 0.0
            rest = rest[digits:]
        if rest in ("Z", "z", ""):
            offset = 0
        elif rest[:1] in "+-" and len(rest) == 6 and rest[3] == ":":
            offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (-1 if rest[0] == "-" else 1)
        else:
            return 0.0
    except ValueError:
        return 0.0
    return secs - offset + frac


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp as written in image configs (nanoseconds tolerated)."""
    from datetime import datetime, timezone

    text = (text or "").strip()
    if not text:
        return datetime.fromtimestamp(0, timezone.utc)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    main, plus, zone = text.partition("+") if "+" in text[10:] else (text, "", "")
    if not plus and text.count("-") > 2:
        idx = text.rfind("-")
        main, zone, plus = text[:idx], text[idx + 1 :], "-"
    if "." in main:
        head, frac = main.split(".", 1)
        main = f"{head}.{frac[:6]}"
    try:
        value = datetime.fromisoformat(main + (plus + zone if plus else ""))
    except ValueError:
        return datetime.fromtimestamp(0, timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# --- times and durations users give (--since, --until, --health-interval...) -------------------
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
_DURATION_PART = r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)"


def parse_duration(value: str) -> float:
    """Go time.ParseDuration: "1m30s", "1.5h", "300ms", "-2s", "0" -> seconds; InvalidArgument on garbage."""
    import re  # not at import time: the exit command and listings parse no user times

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
    import re  # not at import time: the exit command and listings parse no user times

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


def parse_since(value: str, now: float | None = None) -> float:
    """--since/--until values: RFC3339, unix seconds(.nanos), or a duration meaning now - duration."""
    import re  # not at import time: the exit command and listings parse no user times

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
    return (time.time() if now is None else now) - delta


def rfc3339_to_podman_time(value: str) -> str:
    """Re-render a stored RFC3339Nano string in Go's String form without losing nanoseconds."""
    import re  # not at import time: the exit command and listings parse no user times

    match = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?Z", value)
    if match:
        frac = (match.group(3) or "").rstrip("0")
        return f"{match.group(1)} {match.group(2)}{'' if frac == '.' else frac} +0000 UTC"
    return podman_time(parse_rfc3339(value))
