"""Replace the venv's `pypod` console script with a lean launcher.

pip's generated wrapper starts Python with `site` (the venv's .pth files, ~2.5 ms) and imports
`re` before pypod runs.  The launcher starts the same interpreter isolated and without `site`
(`python -IS`): the source tree goes first on sys.path, the venv's site-packages (for the
optional dependencies, imported lazily) last.  Usage: python scripts/write-launcher.py BIN_PATH
"""

from __future__ import annotations

import os
import sys
import sysconfig

TEMPLATE = """#!{python} -IS
# pypod's lean launcher (written by scripts/write-launcher.py): no site, no PYTHON* variables
import sys
sys.path.insert(0, {src!r})
sys.path.extend({site_dirs!r})
from pypod.cli.main import main
sys.exit(main())
"""


def main() -> int:
    target = sys.argv[1]
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    paths = sysconfig.get_paths()
    site_dirs = list(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    text = TEMPLATE.format(python=sys.executable, src=src, site_dirs=site_dirs)
    tmp = f"{target}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
