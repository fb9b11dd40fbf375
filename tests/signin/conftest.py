"""A seeded ledger for the sign-in tests (the dashboard tests' fixture, with its independent figures)."""

from __future__ import annotations

from tests.support.dashboard import Truth, seeded

__all__ = ["Truth", "seeded"]
