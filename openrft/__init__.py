"""openrft: self-hosted reinforcement fine-tuning with an OpenAI-compatible API."""

__version__ = "0.1.0"
