"""Fine-tuned and checkpoint (LoRA) models served next to their base, through the SDK."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from peft import PeftModel

from openrft.inference.engine import GenerationEngine, SamplingParams
from openrft.inference.registry import load_base_model
from openrft.inference.tokens import encode_chat
from tests.integration.lora_models import MODEL, FineTuned

MESSAGES = [{"role": "user", "content": "tell me something"}]


def greedy(client: openai.OpenAI, model: str, content: str = "tell me something") -> str:
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": content}],
        temperature=0,
        max_completion_tokens=16,
    )
    return response.choices[0].message.content or ""


def test_fine_tuned_and_checkpoint_models_answer_differently(finetuned: FineTuned) -> None:
    client = finetuned.server.client()
    listed = {m.id for m in client.models.list()}
    assert {finetuned.ft_model, finetuned.checkpoint_model} <= listed
    answers = {
        m: greedy(client, m) for m in (MODEL, finetuned.ft_model, finetuned.checkpoint_model)
    }
    assert len(set(answers.values())) == 3


def test_fine_tuned_answer_equals_the_adapter_applied_locally(finetuned: FineTuned) -> None:
    model, tokenizer = load_base_model(MODEL, cache_dir=finetuned.server.data_dir / "models")
    peft_model = PeftModel.from_pretrained(model, str(finetuned.adapter_dirs[2]))
    engine = GenerationEngine(peft_model, tokenizer)
    prompt = encode_chat(tokenizer, MESSAGES)
    (completion,) = engine.generate([prompt], SamplingParams(max_new_tokens=16, temperature=0))[0]
    expected = tokenizer.decode(completion.token_ids, skip_special_tokens=True)
    assert greedy(finetuned.server.client(), finetuned.ft_model) == expected


def test_mixed_adapter_batch_answers_like_sequential_requests(finetuned: FineTuned) -> None:
    client = finetuned.server.client()
    models = [MODEL, finetuned.ft_model, finetuned.checkpoint_model] * 4
    contents = [f"question {i}" for i in range(len(models))]
    alone = [greedy(client, m, c) for m, c in zip(models, contents, strict=True)]
    with ThreadPoolExecutor(len(models)) as pool:
        together = list(pool.map(lambda m, c: greedy(client, m, c), models, contents))
    assert together == alone


def test_deleted_checkpoint_model_is_gone(finetuned: FineTuned) -> None:
    client = finetuned.server.client()
    extra = f"{finetuned.ft_model}:ckpt-step-2"
    assert greedy(client, extra) == greedy(client, finetuned.ft_model)
    assert client.models.delete(extra).deleted
    with pytest.raises(openai.NotFoundError):
        greedy(client, extra)
