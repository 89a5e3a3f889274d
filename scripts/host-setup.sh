#!/usr/bin/env bash
# Make the host ready for pypod and the reference podman: /etc/containers/containers.conf
# with runc, cgroupfs, file events, ulimits within this host's hard limits, netavark.
# Idempotent: the file is written only when absent or missing one of these settings.
set -euo pipefail

CONF=/etc/containers/containers.conf

wanted() {
    [ -f "$CONF" ] || return 1
    grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$CONF" &&
    grep -Eq '^[[:space:]]*cgroup_manager[[:space:]]*=[[:space:]]*"cgroupfs"' "$CONF" &&
    grep -Eq '^[[:space:]]*events_logger[[:space:]]*=[[:space:]]*"file"' "$CONF" &&
    grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=.*nofile=20000:20000' "$CONF" &&
    grep -Eq '^[[:space:]]*network_backend[[:space:]]*=[[:space:]]*"netavark"' "$CONF"
}

if wanted; then
    exit 0
fi

mkdir -p /etc/containers
if [ -f "$CONF" ] && [ ! -f "$CONF.pypod-orig" ]; then
    cp -p "$CONF" "$CONF.pypod-orig"
fi
tmp=$(mktemp "$CONF.XXXXXX")
cat >"$tmp" <<'CONF'
# Written by pypod's scripts/host-setup.sh (original, if any: containers.conf.pypod-orig).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[network]
network_backend = "netavark"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
chmod 0644 "$tmp"
mv -f "$tmp" "$CONF"
echo "host-setup: wrote $CONF"
