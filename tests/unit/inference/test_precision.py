"""bfloat16 matmuls on a float32 model (``openrft.inference.precision``): what rollouts compute,
the copies following the weights, and when ``rollout_dtype`` picks bfloat16."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model

from openrft.inference import precision
from openrft.inference.engine import GenerationEngine, SamplingParams
from openrft.inference.precision import CastWeights, rollout_matmul_dtype
from tests.unit.inference.test_backends import tiny_gpt2
from tests.unit.inference.test_engine import chat_prompts, forward_logprobs

BF16 = torch.bfloat16


def _with_adapter(model: Any) -> Any:
    """``model`` (a copy) with a LoRA adapter whose B is not zero, so it changes the logits."""
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, lora_dropout=0.0
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return get_peft_model(copy.deepcopy(model), config).eval()


def _round_base_products(model: Any) -> Any:
    """A copy of ``model`` that rounds each base layer's weight, input and output to bfloat16
    (in float32 tensors): the arithmetic the engine's bfloat16 path promises."""
    rounded = copy.deepcopy(model)

    def to_bf16(t: torch.Tensor) -> torch.Tensor:
        return t.to(BF16).float()

    for name, module in rounded.named_modules():
        if not isinstance(module, torch.nn.Linear) or "lora_" in name:
            continue
        with torch.no_grad():
            module.weight.copy_(to_bf16(module.weight))
        module.register_forward_pre_hook(lambda _m, args: (to_bf16(args[0]),))
        module.register_forward_hook(lambda _m, _args, out: to_bf16(out))
    return rounded


def test_bfloat16_rollouts_round_only_the_base_products(tiny: tuple) -> None:
    model, tokenizer = tiny
    model = _with_adapter(model)
    engine = GenerationEngine(model, tokenizer, matmul_dtype=BF16)
    assert engine.matmul_dtype == BF16
    prompts = chat_prompts(tokenizer)
    out = engine.generate(prompts, SamplingParams(max_new_tokens=12, temperature=1.0, seed=4), n=2)
    rounded = _round_base_products(model)
    emulated_gap, float32_gap = [], []
    for prompt, group in zip(prompts, out, strict=True):
        for sample in group:
            got = torch.tensor(sample.logprobs)
            emulated = torch.tensor(forward_logprobs(rounded, prompt, sample.token_ids, 1.0))
            exact = torch.tensor(forward_logprobs(model, prompt, sample.token_ids, 1.0))
            emulated_gap.append((got - emulated).abs())
            float32_gap.append((got - exact).abs())
    # The engine computes what rounding each base product computes, which is measurably not
    # float32's arithmetic. Up to summation order: where the engine's and the emulation's sums
    # differ in their last float32 bits, rounding the output to bfloat16 can land one bfloat16
    # step apart (AMX on an Intel Xeon: most tokens equal, a few 0.01-0.03 apart), so the
    # comparison is on the mean gap per token.
    assert torch.cat(emulated_gap).mean() < 5e-3
    assert torch.cat(float32_gap).mean() > 10 * torch.cat(emulated_gap).mean()


def test_models_off_the_fast_path_sample_in_their_own_dtype(tiny: tuple) -> None:
    _, tokenizer = tiny
    engine = GenerationEngine(tiny_gpt2(len(tokenizer)), tokenizer, matmul_dtype=BF16)
    assert engine.matmul_dtype is None


def test_copies_are_reused_until_the_weight_changes() -> None:
    weight = torch.nn.Parameter(torch.randn(8, 4))
    cast = CastWeights(BF16)
    first = cast.copy(weight)
    assert first.dtype == BF16 and torch.equal(first, weight.detach().to(BF16))
    assert cast.copy(weight) is first
    optimizer = torch.optim.SGD([weight], lr=1.0)
    weight.grad = torch.ones_like(weight)
    optimizer.step()  # in place, as a full fine-tune's update
    second = cast.copy(weight)
    assert second is not first and torch.equal(second, weight.detach().to(BF16))
    with torch.no_grad():
        weight.data = torch.zeros(8, 4)  # replaced storage
    assert torch.equal(cast.copy(weight), torch.zeros(8, 4, dtype=BF16))


def test_linear_rounds_input_and_weight_and_returns_the_input_dtype() -> None:
    x, weight, bias = torch.randn(5, 4), torch.randn(3, 4), torch.randn(3)
    out = CastWeights(BF16).linear(x, weight, bias)
    expected = torch.nn.functional.linear(x.to(BF16), weight.to(BF16), bias.to(BF16))
    assert out.dtype == torch.float32
    assert torch.equal(out, expected.float())


@pytest.mark.parametrize(
    ("choice", "model_dtype", "native", "expected"),
    [
        ("auto", torch.float32, True, BF16),
        ("auto", torch.float32, False, None),
        ("bfloat16", torch.float32, False, BF16),
        ("float32", torch.float32, True, None),
        ("auto", BF16, True, None),  # already bfloat16: nothing to cast
        ("bfloat16", BF16, True, None),
    ],
)
def test_rollout_dtype_choice(
    monkeypatch: pytest.MonkeyPatch,
    choice: str,
    model_dtype: torch.dtype,
    native: bool,
    expected: torch.dtype | None,
) -> None:
    monkeypatch.setattr(precision, "native_bfloat16", lambda device: native)
    assert rollout_matmul_dtype(choice, model_dtype, torch.device("cpu")) == expected


def test_unknown_rollout_dtype_is_refused() -> None:
    with pytest.raises(ValueError, match="rollout_dtype"):
        rollout_matmul_dtype("float16", torch.float32, torch.device("cpu"))
