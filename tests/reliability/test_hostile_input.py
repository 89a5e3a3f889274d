"""Hostile input at the parser level (in-process): only pypod.errors types may come out."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypod.errors import PypodError

SHORT = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))

# text biased toward the characters the parsers split on
SEPARATORS = st.sampled_from(list(":/@=,.-_[]{}|$\"'`\\ \t\n0123456789aZ%+*()!<>#") + ["{{", "}}", "sha256:"])
hostile_text = st.one_of(st.text(max_size=80), st.lists(SEPARATORS, max_size=30).map("".join))


# inputs tried per family (every hypothesis example, shrinking included), printed per module
TRIED: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    long_examples = TRIED.pop("long examples", 0)
    families = ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items()))
    print(f"\nhostile input: {sum(TRIED.values())} parser inputs tried ({families}); "
          f"long variant: {long_examples} examples, each fed to all five families")


def _count(family: str) -> None:
    TRIED[family] = TRIED.get(family, 0) + 1


def only_pypod_errors(fn, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(*args, **kwargs)
    except PypodError:
        pass


def _reference(text: str) -> None:
    _count("references")
    from pypod.libpod.storage import reference

    only_pypod_errors(reference.parse, text)
    only_pypod_errors(reference.normalize, text)


def _template(text: str) -> None:
    _count("templates")
    from pypod.cli import gotemplate

    data = {"ID": "abc", "Names": ["x"], "Labels": {"a": "b"}, "Size": 3, "State": {"Running": True}}
    only_pypod_errors(gotemplate.render, text, data)
    only_pypod_errors(gotemplate.render_rows, text, [data], {"ID": "CONTAINER ID"})


def _flags(text: str) -> None:
    _count("create flags")
    from pypod.cli import createflags as cf

    for parser in (cf.parse_restart, cf.parse_ulimit, cf.parse_publish, cf.parse_signal, cf.parse_mount):
        only_pypod_errors(parser, text)
    only_pypod_errors(cf.parse_volume, text, check_source=False)
    only_pypod_errors(cf.parse_tmpfs, [text])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
hook_docs = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"version": st.sampled_from(["1.0.0", "1.0.0", "1.0.0", "2", 1]),
         "hook": st.one_of(json_values, st.fixed_dictionaries({"path": st.sampled_from(["/bin/true", "/bin/true", "", 3]),
                                                              "args": json_values, "env": json_values,
                                                              "timeout": json_values})),
         "when": st.one_of(json_values, st.fixed_dictionaries({"always": json_values, "annotations": json_values,
                                                              "commands": json_values,
                                                              "hasBindMounts": json_values})),
         "stages": st.one_of(st.just(["prestart"]), json_values,
                             st.lists(st.sampled_from(["prestart", "poststop", "bogus"])))}),
)


def _hook(doc: object, raw: bytes | None = None) -> None:
    _count("hooks")
    from pypod.libpod import hooks

    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "h.json"), "wb") as f:
            f.write(raw if raw is not None else json.dumps(doc).encode())
        only_pypod_errors(hooks.load_hooks, [d])


toml_docs = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from(["[engine]", "[containers]", "[network]", "[engine.runtimes]", "runtime = ",
                              "conmon_path = ", "hooks_dir = ", "default_ulimits = ", "runc = ",
                              "default_capabilities = ", '"x"', "5", "[1, 2]", '["a"]', "{a = 1}",
                              "true", "\n", "=", "\xff"]), max_size=20).map(lambda p: "".join(p).encode(errors="replace")),
)


def _conf(data: bytes) -> None:
    _count("containers.conf")
    from pypod.libpod import config

    with tempfile.NamedTemporaryFile(suffix=".conf") as f:
        f.write(data)
        f.flush()
        only_pypod_errors(config.read_containers_conf, [f.name])
        old = os.environ.get("CONTAINERS_CONF")
        os.environ["CONTAINERS_CONF"] = f.name
        try:
            only_pypod_errors(config.load_config, root="/tmp/nonexistent-root", runroot="/tmp/nonexistent-run")
        finally:
            if old is None:
                os.environ.pop("CONTAINERS_CONF", None)
            else:
                os.environ["CONTAINERS_CONF"] = old


@SHORT
@given(hostile_text)
def test_references_short(text: str) -> None:
    _reference(text)


@SHORT
@given(hostile_text)
def test_templates_short(text: str) -> None:
    _template(text)


@SHORT
@given(hostile_text)
def test_create_flags_short(text: str) -> None:
    _flags(text)


@SHORT
@given(hook_docs)
def test_hooks_short(doc: object) -> None:
    _hook(doc)


@SHORT
@given(st.binary(max_size=100))
def test_hook_bytes_short(raw: bytes) -> None:
    _hook(None, raw)


@SHORT
@given(toml_docs)
def test_containers_conf_short(data: bytes) -> None:
    _conf(data)


@pytest.mark.slow
@LONG
@given(hostile_text, hook_docs, toml_docs)
def test_everything_long(text: str, doc: object, data: bytes) -> None:
    _count("long examples")
    _reference(text)
    _template(text)
    _flags(text)
    _hook(doc)
    _conf(data)
