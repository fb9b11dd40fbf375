"""The alerts tests' SMTP server and engine factory, for the key-label email test."""

from tests.alerts.conftest import make_engine, smtp_port, smtp_server  # noqa: F401
