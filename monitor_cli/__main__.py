"""`python -m monitor_cli`: the `mistral-monitor` command without installing the package."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
