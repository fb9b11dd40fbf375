"""The alerts fixtures (a real SMTP server, engines, webhook receivers) for this folder's tests."""

from tests.support.alerts import make_engine, receivers, smtp_port, smtp_server

__all__ = ["make_engine", "receivers", "smtp_port", "smtp_server"]
