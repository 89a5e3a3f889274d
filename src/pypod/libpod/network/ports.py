"""The ports a container publishes, as the user sees them (ps, port, inspect).

Once the network is set up, the mappings netavark received (host ports chosen for ``-p 0:80``
and ``-P``) are in the state's network status; before that, the configured ones.
"""

from __future__ import annotations


TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


def published_ports(cfg: Any, state: Any) -> list[dict[str, Any]]:
    """Port mappings ``{host_ip, host_port, container_port, protocol, range}`` of a container."""
    live: list[dict[str, Any]] = []
    for entry in (getattr(state, "network_status", None) or {}).values():
        live.extend(entry.get("port_mappings") or [])
    if live:
        return live
    return list(getattr(cfg, "ports", None) or [])
