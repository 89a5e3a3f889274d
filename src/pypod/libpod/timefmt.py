"""The timestamps pypod stores and prints, in one place (all UTC)."""

from __future__ import annotations

import time

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
