"""The alerts tests' real SMTP server (aiosmtpd on loopback), ledger writer and engine builder."""

from tests.support.alerts import make_engine, smtp_port, smtp_server

__all__ = ["make_engine", "smtp_port", "smtp_server"]
