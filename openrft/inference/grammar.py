"""JSON output formats compiled to token grammars with xgrammar (the library vLLM uses).

``JsonGrammars(tokenizer, vocab_size, stop_ids).compile(output_format)`` gives a
``CompiledGrammar``; the engine makes one ``GrammarMatcher`` per sample from it
(``openrft.inference.constraints``). JSON is generated compactly (``", "`` and ``": "``, no other
whitespace), so a constrained sample cannot spend its tokens on blank space, and in strict mode
(no properties beyond the schema's). Compiled grammars are cached by schema.

xgrammar 0.2.8 (the version vLLM 0.32 pins) lets a string with ``minLength``/``maxLength``
contain raw control characters such as a tab, which is not JSON (mlc-ai/xgrammar#800); such a
string is compiled as the equivalent ``pattern``, whose JSON-aware path never emits them. That
path fails to compile repetitions over ``MAX_PATTERN_REPEAT`` characters, so longer bounds keep
xgrammar's own rule.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from openrft.domain.response_format import OutputFormat
from openrft.errors import InvalidRequestError

if TYPE_CHECKING:  # imported on first compile: serving without structured output never needs it
    import xgrammar as xgr

# The longest {m,n} repetition xgrammar 0.2.8's regex path compiles (checked: 129+ fails).
MAX_PATTERN_REPEAT = 128
_SOURCE_PREFIX = re.compile(r"^\[[\d:]+\] \S+:\d+: ")


class JsonGrammars:
    """Compiles JSON schemas for one tokenizer; thread-safe. The tokenizer's vocabulary is
    analysed on the first compile (about a second for a 49k vocabulary), not before."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_ids: Iterable[int]) -> None:
        self._tokenizer = tokenizer
        self.vocab_size = vocab_size
        self._stop_ids = sorted(stop_ids)
        self._compiler: xgr.GrammarCompiler | None = None
        self._lock = threading.Lock()

    def compile(self, output_format: OutputFormat) -> xgr.CompiledGrammar:
        """The grammar of ``output_format`` (a JSON one); a 400 naming ``output_format.param``
        when xgrammar cannot enforce the schema."""
        if not output_format.constrained or output_format.schema is None:
            raise ValueError("only JSON output formats compile to a grammar")
        try:
            schema = json.dumps(bounded_strings_as_patterns(output_format.schema))
            return self._get_compiler().compile_json_schema(
                schema, any_whitespace=False, strict_mode=True
            )
        except (RuntimeError, ValueError, TypeError) as exc:
            raise InvalidRequestError(
                f"The JSON schema cannot be enforced: {_first_line(exc)}",
                param=output_format.param,
            ) from exc

    def _get_compiler(self) -> xgr.GrammarCompiler:
        with self._lock:
            if self._compiler is None:
                import xgrammar as xgr

                info = tokenizer_info(self._tokenizer, self.vocab_size, self._stop_ids)
                self._compiler = xgr.GrammarCompiler(info, max_threads=1)
            return self._compiler


def tokenizer_info(tokenizer: Any, vocab_size: int, stop_ids: list[int]) -> xgr.TokenizerInfo:
    """xgrammar's view of ``tokenizer`` with special tokens (``<|im_end|>``, ...) as control
    tokens, never text: xgrammar reads a fast tokenizer's special tokens as their literal
    strings, which would let ``<|endoftext|>`` appear inside a JSON string."""
    import xgrammar as xgr

    detected = xgr.TokenizerInfo.from_huggingface(
        tokenizer, vocab_size=vocab_size, stop_token_ids=stop_ids
    )
    special = set(getattr(tokenizer, "all_special_ids", ()))
    special |= {i for i, added in tokenizer.added_tokens_decoder.items() if added.special}
    encoded = [""] * vocab_size  # xgrammar treats an empty token as a control token
    for token, index in tokenizer.get_vocab().items():
        if index < vocab_size and index not in special:
            encoded[index] = token
    return xgr.TokenizerInfo(
        encoded,
        detected.vocab_type,
        vocab_size=vocab_size,
        stop_token_ids=stop_ids,
        add_prefix_space=detected.add_prefix_space,
    )


def bounded_strings_as_patterns(schema: Any) -> Any:
    """``schema`` with each ``{"type": "string", "maxLength" <= MAX_PATTERN_REPEAT}`` (and no
    pattern) rewritten as ``"pattern": "^.{min,max}$"``, which accepts the same strings."""
    if isinstance(schema, list):
        return [bounded_strings_as_patterns(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    node = {key: bounded_strings_as_patterns(value) for key, value in schema.items()}
    high = node.get("maxLength")
    short = isinstance(high, int) and 0 <= high <= MAX_PATTERN_REPEAT
    if node.get("type") == "string" and short and "pattern" not in node:
        low = node.pop("minLength", 0)
        node.pop("maxLength")
        node["pattern"] = f"^.{{{low},{high}}}$"
    return node


def _first_line(exc: Exception) -> str:
    """xgrammar's message without its ``[time] file.cc:line:`` prefix."""
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return _SOURCE_PREFIX.sub("", text)[:300]
