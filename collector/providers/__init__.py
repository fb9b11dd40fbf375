"""Provider sources: Mistral's Admin API (billed usage) and OpenAI / Anthropic usage reports.

Public surface: the three source classes and `FACTORIES`
(kind -> class), which collector._jobs registers; the kinds' config keys are in
foundation.config.SOURCE_KINDS.
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
