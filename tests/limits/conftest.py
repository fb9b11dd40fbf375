"""The alerts tests' SMTP server and engine factory, for the key-label and soft-limit email tests."""

from tests.support.alerts import make_engine, receivers, smtp_port, smtp_server  # noqa: F401
