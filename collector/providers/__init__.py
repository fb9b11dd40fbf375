"""Provider sources: Mistral's Admin API (billed usage) and OpenAI / Anthropic usage reports.

Public surface: the three source classes and `FACTORIES` (kind -> class), which collector._jobs
registers. Each class declares its kind's own `[[sources]]` keys as `OPTIONS` (`Setting`s,
validated when the source is built); foundation.config_keys names the kinds only.
"""

from ._admin import MistralAdminSource
from ._anthropic import AnthropicUsageSource
from ._openai import OpenAIUsageSource

FACTORIES = {
    "mistral_admin": MistralAdminSource,
    "openai_usage": OpenAIUsageSource,
    "anthropic_usage": AnthropicUsageSource,
}

__all__ = ["FACTORIES", "AnthropicUsageSource", "MistralAdminSource", "OpenAIUsageSource"]
