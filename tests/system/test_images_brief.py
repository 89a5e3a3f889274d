"""`images` default table read from images.json alone, and its fallback for older records."""

from __future__ import annotations

import json
import os
import re

from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod

AGO = re.compile(r"\S+ \S+ ago|Less than a second ago")


def _images_json(p: Pypod) -> str:
    return os.path.join(p.root, "storage", "overlay-images", "images.json")


def _table(p: Pypod, *args: str) -> str:
    # "N seconds ago" may tick between two runs: compare without it
    return AGO.sub("AGO", p.ok("images", *args).out)


def test_record_holds_size_and_created(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    with open(_images_json(p)) as f:
        records = json.load(f)
    image_id = p.ok("image", "inspect", "--format", "{{.Id}}", BUSYBOX_IMAGE).out.strip()
    record = next(r for r in records if r["id"] == image_id)
    assert record["size"] == int(p.ok("image", "inspect", "--format", "{{.Size}}", BUSYBOX_IMAGE).out)
    with open(os.path.join(os.path.dirname(_images_json(p)), image_id, "config")) as f:
        assert record["image-created"] == json.load(f)["created"]


def test_older_records_list_the_same(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("tag", BUSYBOX_IMAGE, "other/name:2")
    variants = [(), ("-q",), ("--no-trunc",), ("--digests",), ("-n",), ("--sort", "size"), ("--sort", "repository")]
    brief = {v: _table(p, *v) for v in variants}
    path = _images_json(p)
    with open(path) as f:
        records = json.load(f)
    for record in records:  # as an older pypod wrote them
        record.pop("size", None)
        record.pop("image-created", None)
    with open(path, "w") as f:
        json.dump(records, f)
    for v in variants:
        assert _table(p, *v) == brief[v], v
    assert "localhost/other/name  2" in brief[()] and "localhost/busybox" in brief[()]
