"""pypod: a daemonless container engine (podman-compatible) in Python."""

from __future__ import annotations

__version__ = "0.2.0"

TYPE_CHECKING = False  # not `typing`: `pypod --version` imports nothing it does not need
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from pypod.libpod.runtime import Runtime


def __getattr__(name: str) -> Any:
    if name == "Runtime":
        from pypod.libpod.runtime import Runtime

        return Runtime
    raise AttributeError(name)
