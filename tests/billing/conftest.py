"""The billing fixtures (providers over a MockTransport, warnings reset per test) for this folder's tests."""

from tests.support.billing import fresh_warnings, make_provider

__all__ = ["fresh_warnings", "make_provider"]
