"""The repository root, for tests that run the product from a checkout (the product itself
resolves paths against the current directory or its config file, never against its source)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
