"""pypod: a daemonless container engine (podman-compatible) in Python."""

from __future__ import annotations

__version__ = "0.2.0"


def _defer_inspect() -> None:
    """Load ``inspect`` on first use, not when ``dataclasses`` imports it (~5-7 ms per command).

    ``dataclasses`` only calls ``inspect.signature`` for a class without a docstring, so the
    engine's dataclasses carry docstrings; anything else that touches ``inspect`` loads it.
    """
    import sys

    if "inspect" in sys.modules:
        return

    class _Deferred(type(sys)):  # type: ignore[misc]
        def __getattr__(self, attr: str) -> object:
            if sys.modules.get("inspect") is self:
                del sys.modules["inspect"]
            import inspect

            return getattr(inspect, attr)

    sys.modules["inspect"] = _Deferred("inspect")


_defer_inspect()

TYPE_CHECKING = False  # not `typing`: `pypod --version` imports nothing it does not need
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from pypod.libpod.runtime import Runtime


def __getattr__(name: str) -> Any:
    if name == "Runtime":
        from pypod.libpod.runtime import Runtime

        return Runtime
    raise AttributeError(name)
