"""timefmt: the datetime-free formatting and parsing agree with datetime's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from pypod.libpod import timefmt

MOMENTS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1))


@given(MOMENTS, st.integers(0, 999_999_999), st.integers(-14 * 60, 14 * 60))
def test_epoch_seconds_matches_datetime(moment: datetime, nanos: int, offset_minutes: int) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    aware = moment.replace(microsecond=0, tzinfo=zone)
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    suffix = "Z" if offset_minutes == 0 else f"{sign}{hours:02d}:{minutes:02d}"
    frac = ("." + f"{nanos:09d}".rstrip("0")) if nanos else ""
    text = aware.strftime("%Y-%m-%dT%H:%M:%S") + frac + suffix
    assert abs(timefmt.epoch_seconds(text) - (aware.timestamp() + nanos / 1e9)) < 1e-6


@given(st.integers(10**16, 7_258_118_400 * 10**9))  # ints above 1e15 are nanoseconds
def test_formats_match_datetime(ns: int) -> None:
    secs, nanos = divmod(ns, 10**9)
    utc = datetime.fromtimestamp(secs, tz=timezone.utc)
    frac = ("." + f"{nanos:09d}".rstrip("0")) if nanos else ""
    assert timefmt.rfc3339nano(ns) == utc.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    assert timefmt.podman_time(ns) == utc.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"
    assert timefmt.rfc3339_fixed(ns) == utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def test_epoch_seconds_of_bad_text_is_zero() -> None:
    for text in ("", "yesterday", "2024-13-45", "2024-01-02T03:04:05+0100x", "2024-01-02T03:04:05 UTC"):
        assert timefmt.epoch_seconds(text) == 0.0


def test_now_micro_shape() -> None:
    text = timefmt.now_rfc3339_micro()
    assert len(text) == len("2024-01-02T03:04:05.123456Z") and text.endswith("Z")
    assert abs(timefmt.epoch_seconds(text) - datetime.now(timezone.utc).timestamp()) < 5
