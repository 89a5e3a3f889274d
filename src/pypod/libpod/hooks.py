"""OCI hooks 1.0.0 (hooks.d JSON files): loading, matching, and running precreate/poststop.

The runtime stages (prestart, createRuntime, createContainer, startContainer, poststart) go
into the spec's ``hooks`` field for runc; the extension stages ``precreate`` (may edit the
spec: spec JSON on stdin, the new spec on stdout) and ``poststop`` (state JSON on stdin) are
run by the engine itself.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from dataclasses import dataclass, field

from pypod.errors import InvalidArgument, OCIRuntimeError

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

log = logging.getLogger(__name__)

RUNTIME_STAGES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart")
EXTENSION_STAGES = ("precreate", "poststop")
STAGES = RUNTIME_STAGES + EXTENSION_STAGES
DEFAULT_TIMEOUT = 60.0


@dataclass
class Hook:
    """One hook file: what to run, when, and at which stages."""

    file: str
    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None
    always: bool | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    has_bind_mounts: bool | None = None
    stages: list[str] = field(default_factory=list)

    def matches(self, spec: dict[str, Any], annotations: dict[str, str] | None = None,
                has_bind_mounts: bool | None = None) -> bool:
        """All the ``when`` conditions that are set hold (OCI hooks 1.0.0 semantics)."""
        if annotations is None:
            annotations = dict(spec.get("annotations") or {})
        if has_bind_mounts is None:
            has_bind_mounts = spec_has_bind_mounts(spec)
        matched = 0
        if self.always is not None:
            if not self.always:
                return False
            matched += 1
        if self.has_bind_mounts is not None:
            if not (self.has_bind_mounts and has_bind_mounts):
                return False
            matched += 1
        for key_re, value_re in self.annotations.items():
            if not any(re.search(key_re, k) and re.search(value_re, str(v)) for k, v in annotations.items()):
                return False
            matched += 1
        process = spec.get("process")
        if process is not None and self.commands:
            args = process.get("args") or []
            if not args:
                raise InvalidArgument("process.args must have at least one entry")
            if not any(re.search(pattern, args[0]) for pattern in self.commands):
                return False
            matched += 1
        return matched > 0

    def to_spec(self) -> dict[str, Any]:
        """The runtime-spec hook object ({path, args, env, timeout})."""
        obj: dict[str, Any] = {"path": self.path}
        if self.args:
            obj["args"] = list(self.args)
        if self.env:
            obj["env"] = list(self.env)
        if self.timeout is not None:
            obj["timeout"] = self.timeout
        return obj


def spec_has_bind_mounts(spec: dict[str, Any]) -> bool:
    for mount in spec.get("mounts") or []:
        if mount.get("type") == "bind" or any(o in ("bind", "rbind") for o in mount.get("options") or []):
            return True
    return False


def _parse_hook(path: str) -> Hook:
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"parsing hook {path!r}: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"parsing hook {path!r}: not a JSON object")
    version = doc.get("version")
    if version != "1.0.0":
        raise InvalidArgument(f"parsing hook {path!r}: unrecognized hook version: {version!r}")
    hook = doc.get("hook")
    if not isinstance(hook, dict) or not isinstance(hook.get("path"), str) or not hook["path"]:
        raise InvalidArgument(f"parsing hook {path!r}: missing required property: hook.path")
    if not os.path.exists(hook["path"]):
        raise InvalidArgument(f"parsing hook {path!r}: stat {hook['path']}: no such file or directory")
    stages = doc.get("stages")
    if not isinstance(stages, list) or not stages:
        raise InvalidArgument(f"parsing hook {path!r}: missing required property: stages")
    for stage in stages:
        if stage not in STAGES:
            raise InvalidArgument(f"parsing hook {path!r}: unknown stage {stage!r}")
    when = doc.get("when")
    if not isinstance(when, dict):
        raise InvalidArgument(f"parsing hook {path!r}: missing required property: when")
    always = when.get("always")
    annotations = when.get("annotations") or {}
    commands = when.get("commands") or []
    bind = when.get("hasBindMounts")
    if not isinstance(annotations, dict) or not isinstance(commands, list):
        raise InvalidArgument(f"parsing hook {path!r}: when.annotations must be an object and when.commands an array")
    for key in ("args", "env"):
        value = hook.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"parsing hook {path!r}: hook.{key} must be an array of strings")
    if always is None and not annotations and not commands and bind is None:
        raise InvalidArgument(f"parsing hook {path!r}: no when conditions set")
    for pattern in [*annotations.keys(), *annotations.values(), *commands]:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise InvalidArgument(f"parsing hook {path!r}: invalid regular expression {pattern!r}: {exc}") from None
    timeout = hook.get("timeout")
    if timeout is not None and (not isinstance(timeout, int) or timeout <= 0):
        raise InvalidArgument(f"parsing hook {path!r}: hook.timeout must be a positive integer")
    return Hook(
        file=name,
        path=hook["path"],
        args=list(hook.get("args") or []),
        env=list(hook.get("env") or []),
        timeout=timeout,
        always=always,
        annotations=dict(annotations),
        commands=list(commands),
        has_bind_mounts=bind,
        stages=list(stages),
    )


def load_hooks(dirs: list[str]) -> list[Hook]:
    """Hooks of every ``*.json`` in ``dirs``; a later dir's file overrides the same name; sorted by name."""
    chosen: dict[str, str] = {}
    for directory in dirs:
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise InvalidArgument(f"reading hooks directory {directory!r}: {exc}") from None
        for name in names:
            if name.endswith(".json") and os.path.isfile(os.path.join(directory, name)):
                chosen[name] = os.path.join(directory, name)
    return [_parse_hook(chosen[name]) for name in sorted(chosen, key=lambda n: (n.lower(), n))]


def hooks_for_stage(hooks: list[Hook], stage: str) -> list[Hook]:
    return [h for h in hooks if stage in h.stages]


def spec_hooks(hooks: list[Hook], spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The spec's "hooks" field for the matching hooks of the runtime stages."""
    result: dict[str, list[dict[str, Any]]] = {}
    for hook in hooks:
        stages = [s for s in hook.stages if s in RUNTIME_STAGES]
        if stages and hook.matches(spec):
            for stage in stages:
                result.setdefault(stage, []).append(hook.to_spec())
    return result


def _run(hook: Hook, stdin: bytes, stage: str) -> bytes:
    argv = hook.args or [hook.path]
    env = dict(e.split("=", 1) for e in hook.env if "=" in e)
    timeout = float(hook.timeout) if hook.timeout else DEFAULT_TIMEOUT
    try:
        proc = subprocess.run(
            argv, executable=hook.path, input=stdin, capture_output=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise OCIRuntimeError(f"executing {argv}: {stage} hook {hook.file} timed out after {timeout:g}s") from None
    except OSError as exc:
        raise OCIRuntimeError(f"executing {argv}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip()
        status = f"exit status {proc.returncode}" if proc.returncode > 0 else f"signal: {-proc.returncode}"
        raise OCIRuntimeError(f"executing {argv}: {status}" + (f": {detail}" if detail else ""))
    return proc.stdout


def run_precreate(hooks: list[Hook], spec: dict[str, Any]) -> dict[str, Any]:
    """Run the matching precreate hooks in order (each may rewrite the spec), then put the
    matching runtime-stage hooks into the spec's ``hooks`` field.  Failures raise OCIRuntimeError."""
    for hook in hooks_for_stage(hooks, "precreate"):
        if not hook.matches(spec):
            continue
        out = _run(hook, json.dumps(spec).encode(), "precreate")
        try:
            new_spec = json.loads(out)
        except ValueError:
            raise OCIRuntimeError(f"precreate hook {hook.file} did not print a valid JSON spec") from None
        if not isinstance(new_spec, dict):
            raise OCIRuntimeError(f"precreate hook {hook.file} did not print a JSON object")
        spec = new_spec
    extra = spec_hooks(hooks, spec)
    if extra:
        merged = dict(spec.get("hooks") or {})
        for stage, entries in extra.items():
            merged[stage] = list(merged.get(stage) or []) + entries
        spec = dict(spec)
        spec["hooks"] = merged
    return spec


def run_poststop(hooks: list[Hook], spec: dict[str, Any], state: dict[str, Any]) -> list[str]:
    """Run the matching poststop hooks (state JSON on stdin); failures are logged and returned, not raised."""
    errors: list[str] = []
    data = json.dumps(state).encode()
    for hook in hooks_for_stage(hooks, "poststop"):
        try:
            if not hook.matches(spec):
                continue
            _run(hook, data, "poststop")
        except (OCIRuntimeError, InvalidArgument) as exc:
            log.warning("poststop hook %s: %s", hook.file, exc)
            errors.append(str(exc))
    return errors
