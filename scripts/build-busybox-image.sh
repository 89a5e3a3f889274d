#!/usr/bin/env bash
# Build localhost/busybox:latest from the host's static busybox, unless it exists already.
# Extra arguments (global options such as --root) are passed to every pypod call.
set -euo pipefail
cd "$(dirname "$0")/.."

PYPOD=(.venv/bin/pypod "$@")
IMAGE=localhost/busybox:latest

if "${PYPOD[@]}" image exists "$IMAGE" 2>/dev/null; then
    echo "$IMAGE already present"
    exit 0
fi

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
# The same root filesystem the tests use: /bin/busybox + applet links, passwd/group, /tmp.
.venv/bin/python - "$workdir/rootfs.tar" <<'PY'
import sys
sys.path.insert(0, "tests")
from pypodcli import build_busybox_rootfs_tar
build_busybox_rootfs_tar(sys.argv[1])
PY
"${PYPOD[@]}" import "$workdir/rootfs.tar" "$IMAGE" --change 'CMD ["sh"]'
echo "built $IMAGE"
