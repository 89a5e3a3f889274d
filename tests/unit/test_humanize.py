"""Sizes, durations and times as podman prints them."""

from __future__ import annotations

import time

import pytest

from pypod.cli import humanize
from pypod.cli.tabwriter import align_tabbed, format_table
from pypod.errors import InvalidArgument


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1 kB"), (4100, "4.1 kB"), (1987655, "1.99 MB"), (1234567, "1.23 MB"),
     (5 * 10**9, "5 GB"), (999999, "1e+03 kB")],
)
def test_size(n: int, text: str) -> None:
    assert humanize.size(n) == text


@pytest.mark.parametrize(
    ("secs", "text"),
    [(0, "Less than a second"), (0.9, "Less than a second"), (1, "1 second"), (2, "2 seconds"),
     (59, "59 seconds"), (60, "About a minute"), (119, "About a minute"), (120, "2 minutes"),
     (3599, "59 minutes"), (3600, "About an hour"), (2 * 3600, "2 hours"), (47 * 3600, "47 hours"),
     (3 * 86400, "3 days"), (15 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years")],
)
def test_duration(secs: float, text: str) -> None:
    assert humanize.duration(secs) == text


def test_ago() -> None:
    assert humanize.ago(100.0, now=103.0) == "3 seconds ago"
    assert humanize.ago(time.time()) == "Less than a second ago"


@pytest.mark.parametrize(("value", "n"), [("64m", 64 << 20), ("1k", 1024), ("2g", 2 << 30), ("10", 10),
                                          ("10b", 10), ("1.5k", 1536), ("512MB", 512 << 20)])
def test_parse_size(value: str, n: int) -> None:
    assert humanize.parse_size(value) == n


@pytest.mark.parametrize("value", ["", "abc", "1x", "-1m", "1..2k"])
def test_parse_size_invalid(value: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid size"):
        humanize.parse_size(value)


@pytest.mark.parametrize(("value", "secs"), [("1m30s", 90), ("1.5h", 5400), ("300ms", 0.3), ("0", 0),
                                             ("-2s", -2), ("1h2m3s", 3723)])
def test_parse_duration(value: str, secs: float) -> None:
    assert humanize.parse_duration(value) == pytest.approx(secs)


@pytest.mark.parametrize("value", ["", "5", "1x", "s", "1m-"])
def test_parse_duration_invalid(value: str) -> None:
    with pytest.raises(InvalidArgument):
        humanize.parse_duration(value)


def test_parse_time() -> None:
    assert humanize.parse_time("2024-01-02T15:04:05Z") == 1704207845
    assert humanize.parse_time("2024-01-02T15:04:05.5+01:00") == pytest.approx(1704207845 - 3600 + 0.5)
    assert humanize.parse_time("1704207845") == 1704207845
    assert humanize.parse_time("1704207845.25") == pytest.approx(1704207845.25)
    assert humanize.parse_time("10m", now=1000.0) == 400.0
    with pytest.raises(InvalidArgument, match="unable to interpret time value"):
        humanize.parse_time("yesterday")


def test_time_strings() -> None:
    ns = 1704207845_123456789
    assert humanize.rfc3339nano(ns) == "2024-01-02T15:04:05.123456789Z"
    assert humanize.rfc3339nano(1704207845.5) == "2024-01-02T15:04:05.5Z"
    assert humanize.rfc3339nano(1704207845) == "2024-01-02T15:04:05Z"
    assert humanize.podman_time(ns) == "2024-01-02 15:04:05.123456789 +0000 UTC"
    assert humanize.rfc3339_to_podman_time("2026-12-07T01:11:48.63107174Z") == "2026-12-07 01:11:48.63107174 +0000 UTC"


def test_tabwriter_matches_podman_ps() -> None:
    rows = [
        ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
        ["fb59581c18ff", "localhost/busybox:latest", "true", "Less than a second ago",
         "Exited (0) Less than a second ago", "", "c1"],
        ["952ac329c13f", "localhost/busybox:latest", "sleep 100", "Less than a second ago", "Created", "",
         "mylongcontainername"],
    ]
    assert format_table(rows) == (
        "CONTAINER ID  IMAGE                     COMMAND     CREATED                 STATUS"
        "                             PORTS       NAMES\n"
        "fb59581c18ff  localhost/busybox:latest  true        Less than a second ago  Exited (0) Less than a second ago"
        "              c1\n"
        "952ac329c13f  localhost/busybox:latest  sleep 100   Less than a second ago  Created"
        "                                        mylongcontainername\n"
    )


def test_tabwriter_blocks() -> None:
    # a line without tabs ends a column block, like Go's tabwriter
    text = "a\tb\nlonger-than-twelve\tc\nplain\nx\ty\n"
    assert align_tabbed(text) == (
        "a                   b\nlonger-than-twelve  c\nplain\nx           y\n"
    )
    assert format_table([]) == ""
