"""Model aliases: parsing the flags, refusing bad definitions, reading OPENRFT_MODEL_ALIASES."""

from __future__ import annotations

import pydantic
import pytest

from openrft.domain.model_aliases import AliasError, ModelAliases, parse_alias_flags
from openrft.settings import Settings


def test_flags_become_a_mapping() -> None:
    flags = ["gpt-4.1=SmolLM2-135M-Instruct", "o4-mini-2025-04-16 = tiny-random-llama"]
    assert parse_alias_flags(flags) == {
        "gpt-4.1": "SmolLM2-135M-Instruct",
        "o4-mini-2025-04-16": "tiny-random-llama",
    }


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["gpt-4.1"], "use NAME=MODEL"),
        (["=tiny-random-llama"], "non-empty"),
        (["ft:x=tiny-random-llama"], "'ft:' names"),
        (["a=b", "b=tiny-random-llama"], "names another alias"),
    ],
)
def test_bad_flags_are_refused(flags: list[str], words: str) -> None:
    with pytest.raises(AliasError, match=words):
        parse_alias_flags(flags)


def test_lookup_is_one_step() -> None:
    aliases = ModelAliases({"gpt-4.1": "SmolLM2-135M-Instruct"})
    assert aliases.target("gpt-4.1") == "SmolLM2-135M-Instruct"
    assert aliases.target("tiny-random-llama") == "tiny-random-llama"
    assert aliases.is_alias("gpt-4.1") and not aliases.is_alias("SmolLM2-135M-Instruct")


def test_settings_read_a_json_object_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "OPENRFT_MODEL_ALIASES",
        '{"openai.gpt-oss-20b": "tiny-random-llama", "qwen.qwen3-32b": "tiny-random-llama"}',
    )
    assert Settings().model_aliases == {
        "openai.gpt-oss-20b": "tiny-random-llama",
        "qwen.qwen3-32b": "tiny-random-llama",
    }
    monkeypatch.setenv("OPENRFT_MODEL_ALIASES", '{"a": "b", "b": "c"}')
    with pytest.raises(pydantic.ValidationError, match="names another alias"):
        Settings()
