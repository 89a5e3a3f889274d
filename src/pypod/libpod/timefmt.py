"""The timestamps pypod stores and prints, in one place (all UTC)."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def _split_ts(ts: float | int) -> tuple[datetime, int]:
    """(UTC datetime at whole seconds, nanoseconds); ints above 1e15 are nanoseconds."""
    if isinstance(ts, int) and ts > 10**15:
        secs, nanos = divmod(ts, 10**9)
    else:
        secs = int(ts // 1)
        nanos = int(round((ts - secs) * 1e9))
        if nanos >= 10**9:
            secs, nanos = secs + 1, nanos - 10**9
    return datetime.fromtimestamp(secs, tz=timezone.utc), nanos


def _fraction(nanos: int) -> str:
    return ("." + f"{nanos:09d}".rstrip("0")) if nanos else ""


def rfc3339nano(ts: float | int) -> str:
    """Go's RFC3339Nano: "2024-01-02T15:04:05.123456789Z" (trailing zeros of the fraction dropped)."""
    dt, nanos = _split_ts(ts)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(nanos) + "Z"


def podman_time(ts: float | int) -> str:
    """Go's time.Time String in UTC: "2024-01-02 15:04:05.123456789 +0000 UTC"."""
    dt, nanos = _split_ts(ts)
    return dt.strftime("%Y-%m-%d %H:%M:%S") + _fraction(nanos) + " +0000 UTC"


def rfc3339_fixed(ns: int) -> str:
    """Nanoseconds since the epoch as "2006-01-02T15:04:05.000000000Z" (always 9 digits: sorts as text)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def now_rfc3339() -> str:
    """Now, as container and pod states record it (:func:`rfc3339_fixed`)."""
    return rfc3339_fixed(time.time_ns())


def now_rfc3339_micro() -> str:
    """Now with microseconds, as image and network records keep their creation time."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp as written in image configs (nanoseconds tolerated)."""
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
