"""training.attention computes transformers' sdpa attention, values and gradients."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers.integrations import sdpa_attention

from openrft.training import attention
from openrft.training.policy import Policy

B, H, KV, Q, K, D = 3, 6, 2, 5, 9, 8


def _inputs(q_len: int = Q, k_len: int = K, kv_heads: int = KV) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    shapes = [(B, H, q_len, D), (B, kv_heads, k_len, D), (B, kv_heads, k_len, D)]
    return [torch.randn(s, generator=gen, requires_grad=True) for s in shapes]


def _prefix_mask(q_len: int = Q, k_len: int = K) -> torch.Tensor:
    """(B, 1, q, k) bool: each query sees a prefix and the queries up to itself; row b also
    hides its first b keys (a per-row mask)."""
    allowed = torch.ones(q_len, k_len, dtype=torch.bool).tril(diagonal=k_len - q_len)
    mask = allowed.expand(B, 1, q_len, k_len).clone()
    for b in range(B):
        mask[b, :, :, :b] = False
    return mask


def _both(
    inputs: list[torch.Tensor], mask: torch.Tensor | None, **kwargs: Any
) -> tuple[torch.Tensor, ...]:
    """Outputs and input gradients of transformers' sdpa and of ours, on copies of inputs."""
    module: Any = SimpleNamespace(num_key_value_groups=H // inputs[1].shape[1], is_causal=True)
    results = []
    for fn in (sdpa_attention.sdpa_attention_forward, attention.grouped_attention):
        leaves = [t.detach().clone().requires_grad_() for t in inputs]
        out, _ = fn(module, *leaves, mask, scaling=0.3, **kwargs)
        out.backward(torch.linspace(-1, 1, out.numel()).view_as(out))
        results.append((out, *(t.grad for t in leaves)))
    return tuple(torch.stack([a, b]) for a, b in zip(*results, strict=True))


@pytest.mark.parametrize(
    ("mask_kind", "kv_heads"),
    [("bool", KV), ("additive", KV), ("per-head", KV), ("bool", H), ("bool", 1)],
    ids=["bool", "additive", "per-head-bool", "no-grouping", "one-key-head"],
)
def test_masked_attention_equals_sdpa(mask_kind: str, kv_heads: int) -> None:
    mask = _prefix_mask()
    if mask_kind == "additive":
        mask = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    elif mask_kind == "per-head":
        mask = mask.expand(B, H, Q, K).clone()
        mask[:, 1, :, -1] = False  # one head hides one more key
    for ours_vs_sdpa in _both(_inputs(kv_heads=kv_heads), mask):
        torch.testing.assert_close(ours_vs_sdpa[1], ours_vs_sdpa[0], atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize("k_len", [Q, K], ids=["square", "more-keys-than-queries"])
def test_causal_attention_without_a_mask_equals_sdpa(k_len: int) -> None:
    """No mask, causal: sdpa aligns the causal mask top-left (keys past the queries unseen)."""
    for ours_vs_sdpa in _both(_inputs(k_len=k_len), None, is_causal=True):
        torch.testing.assert_close(ours_vs_sdpa[1], ours_vs_sdpa[0], atol=2e-6, rtol=1e-5)


def test_a_row_that_sees_nothing_gets_finite_values() -> None:
    mask = _prefix_mask()
    mask[0, :, 2] = False
    module: Any = SimpleNamespace()
    out, _ = attention.grouped_attention(module, *_inputs(), mask, scaling=0.3)
    assert torch.isfinite(out).all()


@pytest.fixture
def sdpa_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The calls ``grouped_attention`` hands to transformers' sdpa."""
    calls = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return sdpa_attention.sdpa_attention_forward(*args, **kwargs)

    monkeypatch.setattr(attention, "sdpa_attention_forward", spy)
    return calls


def test_large_scores_take_the_flash_kernel(
    sdpa_calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    module: Any = SimpleNamespace(num_key_value_groups=H // KV)
    inputs, mask = _inputs(), _prefix_mask()
    attention.grouped_attention(module, *inputs, mask)
    assert sdpa_calls == []
    monkeypatch.setattr(attention, "MAX_SCORE_BYTES", B * H * Q * K * 4 - 1)
    attention.grouped_attention(module, *inputs, mask)
    assert len(sdpa_calls) == 1


def test_bfloat16_takes_sdpa_which_keeps_its_softmax_in_float32(
    sdpa_calls: list[tuple[Any, ...]],
) -> None:
    module: Any = SimpleNamespace(num_key_value_groups=H // KV)
    inputs = [t.detach().bfloat16() for t in _inputs()]
    attention.grouped_attention(module, *inputs, _prefix_mask())
    assert len(sdpa_calls) == 1


def test_policy_switches_sdpa_models_and_keeps_their_outputs(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    assert model.config._attn_implementation == "sdpa"
    ids = torch.randint(0, 250, (2, 11), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = model(input_ids=ids).logits
    policy = Policy(model, tokenizer, lora_rank=4, lora_alpha=8, beta=0.0)
    assert policy.causal_lm.config._attn_implementation == attention.NAME
    with torch.no_grad():
        after = policy.causal_lm(input_ids=ids).logits
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_policy_leaves_other_attention_alone(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    model.set_attn_implementation("eager")
    policy = Policy(model, tokenizer, lora_rank=4, lora_alpha=8, beta=0.0)
    assert policy.causal_lm.config._attn_implementation == "eager"


def test_packed_completions_attend_to_the_prompt_and_themselves_only() -> None:
    """Two packed rows after a 4-token prompt: completions of 3, 1 and 4 tokens, then 2 and
    padding. Per completion, the same values and gradients as sdpa given the row's
    block-diagonal mask; padding gives zeros."""
    prompt_len, width = 4, 8
    segment = torch.tensor([[0, 0, 0, 1, 2, 2, 2, 2], [3, 3, -1, -1, -1, -1, -1, -1]])
    packed = attention.PackedCompletions.from_segments(segment, prompt_len)
    assert packed.row.tolist() == [0, 0, 0, 1]
    assert packed.tokens.view(4, 4).tolist() == [
        [0, 1, 2, 2],
        [3, 3, 3, 3],
        [4, 5, 6, 7],
        [8, 9, 9, 9],
    ]
    assert packed.valid.sum(1).tolist() == [3, 1, 4, 2]
    assert packed.inverse.tolist() == [0, 1, 2, 4, 8, 9, 10, 11, 12, 13] + [16] * 6
    gen = torch.Generator().manual_seed(1)
    shapes = [(2, H, width, D), (2, KV, prompt_len + width, D), (2, KV, prompt_len + width, D)]
    inputs = [torch.randn(s, generator=gen) for s in shapes]
    for tensor in inputs[1:]:
        tensor[1, :, :prompt_len] = tensor[0, :, :prompt_len]  # both rows follow one prompt
    own = (segment[:, :, None] == segment[:, None, :]) & (segment[:, None, :] >= 0)
    own &= torch.ones(width, width, dtype=torch.bool).tril()
    mask = torch.cat([torch.ones(2, width, prompt_len, dtype=torch.bool), own], dim=2)[:, None]
    module: Any = SimpleNamespace(num_key_value_groups=H // KV, is_causal=True)
    weight = torch.linspace(-1, 1, 2 * width * H * D).view(2, width, H, D)
    real = (segment >= 0)[:, :, None, None]
    results = []
    for fn, kwargs in (
        (sdpa_attention.sdpa_attention_forward, {}),
        (attention.grouped_attention, {attention.PACKED_KWARG: packed}),
    ):
        leaves = [t.clone().requires_grad_() for t in inputs]
        out, _ = fn(module, *leaves, mask, scaling=0.3, **kwargs)
        (out * weight * real).sum().backward()
        results.append((out * real, *(t.grad for t in leaves)))
    for ours, theirs in zip(results[1], results[0], strict=True):
        assert torch.allclose(ours, theirs, atol=1e-6)
    assert results[1][0].abs().sum() > 0
    assert (out.detach()[1, 2:] == 0).all()  # ours, at the padding
