from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from openrft.inference.registry import load_base_model
from openrft.training.scoring import GroupTokens, enable_layer_checkpointing, group_logprobs

P, G, C = 7, 3, 5


def _group() -> GroupTokens:
    gen = torch.Generator().manual_seed(0)
    mask = torch.ones(G, C)
    mask[1, 3:] = 0
    mask[2, 1:] = 0
    return GroupTokens(
        torch.randint(0, 250, (P,), generator=gen),
        torch.randint(0, 250, (G, C), generator=gen),
        mask,
    )


def test_shared_prompt_logprobs_equal_a_plain_full_forward(tiny) -> None:
    model, _ = tiny
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
