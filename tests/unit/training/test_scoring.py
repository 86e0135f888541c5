from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from openrft.inference.registry import load_base_model
from openrft.training import attention, scoring
from openrft.training.scoring import GroupTokens, enable_layer_checkpointing, group_logprobs

P, G, C = 7, 3, 5


def _group() -> GroupTokens:
    gen = torch.Generator().manual_seed(0)
    mask = torch.ones(G, C)
    mask[1, 3:] = 0
    mask[2, 1:] = 0
    mask[0, 2] = 0  # a tool result inside a trajectory: fed, not scored
    return GroupTokens(
        torch.randint(0, 250, (P,), generator=gen),
        torch.randint(0, 250, (G, C), generator=gen),
        mask,
    )


@pytest.mark.parametrize(
    ("attention", "pack_tokens"),
    [("sdpa", 512), ("sdpa", 3), ("eager", 512), ("sdpa", 0), (attention.register(), 512)],
    ids=[
        "packed",
        "a-pack-per-row-of-3-tokens",
        "packed-eager",
        "one-completion-per-row",
        "packed-grouped-attention",
    ],
)
def test_shared_prompt_logprobs_equal_a_plain_full_forward(
    tiny, monkeypatch: pytest.MonkeyPatch, attention: str, pack_tokens: int
) -> None:
    """Packed completions see the prompt and their own earlier tokens, nothing else: each
    equals the completion run alone after the prompt, however the group is packed."""
    model, _ = tiny
    model.config._attn_implementation = attention
    monkeypatch.setattr(scoring, "PACK_TOKENS", pack_tokens)
    monkeypatch.setattr(scoring, "PACKED_SHARE", 1.0)
    group = _group()
    with torch.no_grad():
        logp, entropy = group_logprobs(model, group, temperature=0.7)
        full = torch.cat([group.prompt_ids.expand(G, P), group.completion_ids], dim=1)
        logits = model(full).logits[:, P - 1 : -1] / 0.7
    expected = torch.log_softmax(logits, -1).gather(-1, group.completion_ids[..., None])
    assert torch.allclose(logp, expected.squeeze(-1) * group.mask, atol=1e-5)
    assert (entropy[group.mask == 0] == 0).all() and (entropy[group.mask == 1] > 0).all()


def test_layer_checkpointing_gives_identical_logprobs_and_gradients(tiny_cache: Path) -> None:
    results = []
    for checkpointed in (False, True):
        torch.manual_seed(1)
        base, _ = load_base_model("tiny-random-llama", cache_dir=tiny_cache)
        config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
        peft_model = get_peft_model(base, config).eval()
        causal_lm = peft_model.get_base_model()
        if checkpointed:
            enable_layer_checkpointing(causal_lm)
        calls: list[int] = []
        attention = causal_lm.get_decoder().layers[0].self_attn
        attention.register_forward_hook(lambda *_, calls=calls: calls.append(1))
        logp, _ = group_logprobs(
            causal_lm, _group(), temperature=1.0, checkpoint_layers=checkpointed
        )
        logp.sum().backward()
        # Prompt pass + completion pass, plus the completion layer's replay in backward.
        assert len(calls) == (3 if checkpointed else 2)
        grads = {n: p.grad for n, p in peft_model.named_parameters() if p.requires_grad}
        results.append((logp.detach(), grads))
        assert not causal_lm.training  # back in eval mode for sampling
    (logp_a, grads_a), (logp_b, grads_b) = results
    assert torch.equal(logp_a, logp_b)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) == 28
    assert all(torch.allclose(grads_a[n], grads_b[n], atol=1e-7) for n in grads_a)


@pytest.mark.parametrize("implementation", ["sdpa", attention.register()])
def test_packing_leaves_gradients_unchanged(
    tiny_cache: Path, monkeypatch: pytest.MonkeyPatch, implementation: str
) -> None:
    """With openrft's attention a packed pass attends per completion (PackedCompletions)."""
    grads = []
    monkeypatch.setattr(scoring, "PACKED_SHARE", 1.0)
    for pack_tokens in (512, 0):
        monkeypatch.setattr(scoring, "PACK_TOKENS", pack_tokens)
        torch.manual_seed(1)
        base, _ = load_base_model("tiny-random-llama", cache_dir=tiny_cache)
        base.config._attn_implementation = implementation
        config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
        peft_model = get_peft_model(base, config).eval()
        logp, _ = group_logprobs(peft_model.get_base_model(), _group(), temperature=1.0)
        (logp * torch.linspace(-1, 1, logp.numel()).view_as(logp)).sum().backward()
        grads.append({n: p.grad for n, p in peft_model.named_parameters() if p.requires_grad})
    packed, per_row = grads
    assert packed.keys() == per_row.keys() and len(packed) == 28
    # Equal up to float summation order (measured: at most 5e-7 of each tensor's largest entry).
    assert all(
        float((packed[n] - per_row[n]).abs().max()) <= 1e-5 * float(per_row[n].abs().max())
        for n in packed
    )


def test_sliding_window_models_get_no_custom_mask() -> None:
    """A custom mask would replace the model's own sliding-window masks."""

    class Config:
        _attn_implementation = "sdpa"

    sliding = Config()
    sliding.layer_types = ["sliding_attention", "full_attention"]  # type: ignore[attr-defined]
    mistral = Config()
    mistral.sliding_window = 4096  # type: ignore[attr-defined]
    qwen = Config()
    qwen.sliding_window, qwen.use_sliding_window = 4096, False  # type: ignore[attr-defined]
    flash = Config()
    flash._attn_implementation = "flash_attention_2"
    assert scoring._custom_mask_kind(sliding) is None
    assert scoring._custom_mask_kind(mistral) is None
    assert scoring._custom_mask_kind(qwen) == "bool"
    assert scoring._custom_mask_kind(Config()) == "bool"
    assert scoring._custom_mask_kind(flash) is None


def test_completions_are_packed_only_when_it_saves_tokens() -> None:
    class Config:
        _attn_implementation = "sdpa"

    ids = torch.zeros(4, 9, dtype=torch.long)
    packed, kind = scoring._layout(Config(), ids, [8, 2, 3, 1], prompt_len=5)
    assert kind == "bool" and packed.input_ids.shape == (1, 14)  # 14 tokens, not 4 x 8
    assert packed.segment.tolist() == [[0] * 8 + [1] * 2 + [2] * 3 + [3]]
    same, kind = scoring._layout(Config(), ids, [8, 8, 7, 8], prompt_len=5)
    assert kind is None and same.input_ids.shape == (4, 8)  # 31 of 32 tokens: not worth it
