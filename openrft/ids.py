"""OpenAI-shaped object ids: ``file-…``, ``ftjob-…``, ``ftevent-…``, ``ftckpt_…``."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_suffix(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    """``new_id("file-")`` → ``file-3fX…``; the prefix carries its own separator."""
    return f"{prefix}{random_suffix(length)}"
