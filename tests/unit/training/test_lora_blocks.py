import copy
import pickle
from typing import Any

import pytest
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from openrft.training import attention, lora_attention, lora_mlp
from openrft.training.lora import FusedLoraLinear
from openrft.training.scoring import GroupTokens, group_logprobs


def _tiny_llama(**overrides: Any) -> nn.Module:
    config = transformers.LlamaConfig(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        attn_implementation="sdpa",
        **overrides,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    model.set_attn_implementation(attention.register())
    return model


def _adapted(base: nn.Module) -> PeftModel:
    config = LoraConfig(
        r=4,
        lora_alpha=12,
        lora_dropout=0.0,
        target_modules="all-linear",
        init_lora_weights=False,  # B != 0, so the adapters change the output
    )
    config._register_custom_module({nn.Linear: FusedLoraLinear})
    torch.manual_seed(1)
    return get_peft_model(copy.deepcopy(base), config)


def _fused(model: PeftModel) -> PeftModel:
    model = copy.deepcopy(model)
    assert lora_mlp.fuse_gated_mlps(model) == 2
    assert lora_attention.fuse_lora_attention(model) == 2
    return model


def _count_calls(monkeypatch: pytest.MonkeyPatch, function: Any) -> list[int]:
    calls: list[int] = []
    apply = function.apply
    monkeypatch.setattr(function, "apply", lambda *a: (calls.append(1), apply(*a))[1])
    return calls


def _lora_grads(model: PeftModel) -> dict[str, torch.Tensor]:
    return {n: p.grad for n, p in model.named_parameters() if p.requires_grad}  # type: ignore[misc]


def _group() -> GroupTokens:
    torch.manual_seed(2)
    completions = torch.randint(0, 97, (4, 9))
    mask = torch.ones(4, 9)
    mask[1, 6:] = 0  # completions of different lengths: packed back to back
    mask[3, 3:] = 0
    return GroupTokens(torch.randint(0, 97, (11,)), completions, mask)


def _scored(model: PeftModel, group: GroupTokens) -> tuple[torch.Tensor, ...]:
    model.zero_grad()
    logp, entropy = group_logprobs(model.get_base_model(), group, temperature=0.7)
    (logp * torch.linspace(-1, 1, logp.numel()).view_as(logp)).sum().backward()
    return logp.detach(), entropy


@pytest.mark.usefixtures("onednn_preferred")
def test_fused_blocks_score_a_group_as_the_layers_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scoring pass (prompt cache, packed completions) through the fused MLP and attention
    Functions: the same log-probs, entropies and LoRA gradients as peft's layers one by one."""
    adapted, group = _adapted(_tiny_llama()), _group()
    expected = _scored(adapted, group)
    expected_grads = _lora_grads(adapted)
    fused = _fused(adapted)
    mlp_calls = _count_calls(monkeypatch, lora_mlp._LoraGatedMlp)
    attention_calls = _count_calls(monkeypatch, lora_attention._LoraQkvRotary)
    got = _scored(fused, group)
    # Two layers, each for the prompt and the completions.
    assert len(mlp_calls) == len(attention_calls) == 4
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)
    got_grads = _lora_grads(fused)
    assert len(got_grads) == 2 * 7 * 2  # A and B of 7 layers in each of 2 blocks
    assert got_grads.keys() == expected_grads.keys()
    for name, grad in got_grads.items():
        reference = expected_grads[name]
        assert reference.abs().max() > 0, name
        torch.testing.assert_close(grad, reference, rtol=1e-4, atol=1e-5 * reference.abs().max())


def test_input_gradient_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gradient the blocks hand back to the residual stream (and so to earlier layers)."""
    adapted = _adapted(_tiny_llama())
    fused = _fused(adapted)
    embeds = torch.randn(2, 6, 64)

    def grad_of_input(model: PeftModel) -> tuple[torch.Tensor, torch.Tensor]:
        x = embeds.clone().requires_grad_(True)
        logits = model(inputs_embeds=x).logits
        (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits)).sum().backward()
        return logits.detach(), x.grad  # type: ignore[return-value]

    expected = grad_of_input(adapted)
    calls = _count_calls(monkeypatch, lora_mlp._LoraGatedMlp)
    got = grad_of_input(fused)
    assert len(calls) == 2
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5 * e.abs().max())


def test_disabled_adapter_and_other_dtypes_take_the_modules_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = _tiny_llama()
    fused = _fused(_adapted(base))
    for function in (lora_mlp._LoraGatedMlp, lora_attention._LoraQkvRotary):
        monkeypatch.setattr(function, "apply", lambda *a: pytest.fail("fused"))
    ids = torch.randint(0, 97, (2, 5))
    with torch.no_grad(), fused.disable_adapter():  # the reference policy: the base model
        torch.testing.assert_close(fused(input_ids=ids).logits, base(input_ids=ids).logits)
    fused.to(torch.bfloat16)
    with torch.no_grad():
        fused(input_ids=ids)


def test_full_fine_tune_and_other_attention_take_the_modules_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for function in (lora_mlp._LoraGatedMlp, lora_attention._LoraQkvRotary):
        monkeypatch.setattr(function, "apply", lambda *a: pytest.fail("fused"))
    full = _tiny_llama()
    lora_mlp.fuse_gated_mlps(full)
    lora_attention.fuse_lora_attention(full)
    full(input_ids=torch.randint(0, 97, (1, 4))).logits.sum().backward()
    eager = _adapted(_tiny_llama())
    eager.get_base_model().set_attn_implementation("eager")
    lora_attention.fuse_lora_attention(eager)
    eager(input_ids=torch.randint(0, 97, (1, 4)))


def test_fused_modules_keep_their_state_and_survive_copies() -> None:
    adapted = _adapted(_tiny_llama())
    fused = _fused(adapted)
    assert fused.state_dict().keys() == adapted.state_dict().keys()
    layer = fused.get_base_model().model.layers[0]
    assert type(layer.mlp).__name__ == "LlamaMLP"
    assert type(layer.self_attn).__name__ == "LlamaAttention"
    ids = torch.randint(0, 97, (1, 6))
    with torch.no_grad():
        expected = fused(input_ids=ids).logits
        for copied in (copy.deepcopy(fused), pickle.loads(pickle.dumps(fused))):
            copied_layer = copied.get_base_model().model.layers[0]
            assert copied_layer.mlp.forward.args[0] is copied_layer.mlp  # bound to the copy
            assert copied_layer.self_attn.forward.args[0] is copied_layer.self_attn
            torch.testing.assert_close(copied(input_ids=ids).logits, expected)
