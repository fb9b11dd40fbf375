"""The seeded ledgers (plain, hostile names, 100k models) for this folder's tests."""

from tests.support.dashboard import app_env, hostile, hostile_env, many_models, seeded

__all__ = ["app_env", "hostile", "hostile_env", "many_models", "seeded"]
