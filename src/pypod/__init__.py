"""pypod: a daemonless container engine (podman-compatible) in Python."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.runtime import Runtime


def __getattr__(name: str) -> Any:
    if name == "Runtime":
        from pypod.libpod.runtime import Runtime

        return Runtime
    raise AttributeError(name)
