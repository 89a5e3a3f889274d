"""``python -m pypod``: the same entry point as the ``pypod`` command."""

from __future__ import annotations

import sys

from pypod.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
