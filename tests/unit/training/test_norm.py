import copy
import functools
import pickle

import pytest
import torch
import transformers
from torch import nn

from openrft.training import norm
from openrft.training.policy import Policy


def _norm_classes() -> list[type[nn.Module]]:
    modules = {
        "LlamaRMSNorm": transformers.models.llama.modeling_llama,
        "MistralRMSNorm": transformers.models.mistral.modeling_mistral,
        "Qwen2RMSNorm": transformers.models.qwen2.modeling_qwen2,
        "Qwen3RMSNorm": transformers.models.qwen3.modeling_qwen3,
    }
    assert set(modules) == norm.LLAMA_STYLE
    return [getattr(module, name) for name, module in modules.items()]


def _values_and_grads(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x = x.detach().clone().requires_grad_(True)
    module.weight.grad = None
    out = module(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = (x.grad,) if module.weight.grad is None else (x.grad, module.weight.grad)
    return (out.detach(), *grads)


@pytest.mark.parametrize("cls", _norm_classes(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("trained_weight", [False, True])
def test_fused_norm_computes_the_modules_values_and_gradients(
    cls: type[nn.Module], trained_weight: bool
) -> None:
    torch.manual_seed(0)
    module = cls(48, eps=1e-5)
    with torch.no_grad():
        module.weight.uniform_(0.5, 1.5)
    module.weight.requires_grad_(trained_weight)
    x = torch.randn(3, 7, 48) * 4
    expected = _values_and_grads(module, x)
    assert norm.fuse_rms_norms(module) == 1
    got = _values_and_grads(module, x)
    assert len(got) == len(expected) == (3 if trained_weight else 2)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def test_fused_norm_uses_the_statistic_of_each_row_and_the_epsilon() -> None:
    module = transformers.models.llama.modeling_llama.LlamaRMSNorm(4, eps=0.5)
    norm.fuse_rms_norms(module)
    x = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 0.0, 0.0, 0.0]], requires_grad=True)
    out = module(x)
    # mean(x²) is 1 in both rows: each is divided by sqrt(1 + 0.5).
    torch.testing.assert_close(out, x.detach() / 1.5**0.5)
    out[1, 0].backward()
    # d/dx0 of 2·r with r = (x0²/4 + 0.5)^-½ at x0 = 2: r − x0²/4 · r³ = r (1 − r²).
    r = 1.5**-0.5
    torch.testing.assert_close(x.grad[1], torch.tensor([r * (1 - r * r), 0.0, 0.0, 0.0]))


def test_other_dtypes_take_the_modules_own_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    module = transformers.models.llama.modeling_llama.LlamaRMSNorm(16).to(torch.bfloat16)
    x = torch.randn(5, 16, dtype=torch.bfloat16)
    expected = module(x)
    norm.fuse_rms_norms(module)
    monkeypatch.setattr(norm._RMSNorm, "apply", lambda *a: pytest.fail("fused path taken"))
    assert torch.equal(module(x), expected)


def test_other_norms_are_left_alone() -> None:
    model = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8))
    assert norm.fuse_rms_norms(model) == 0
    assert "forward" not in model[0].__dict__


def test_policy_fuses_its_models_norms_and_keeps_them_through_copies(tiny) -> None:
    base, tokenizer = tiny
    state = {k: v.clone() for k, v in base.state_dict().items()}
    layers = base.config.num_hidden_layers
    policy = Policy(base, tokenizer, lora_rank=0, lora_alpha=16, beta=0.1)  # deep-copies a ref.
    for lm in (policy.causal_lm, policy._reference):
        norms = [m for m in lm.modules() if type(m).__name__ == "LlamaRMSNorm"]
        assert len(norms) == 2 * layers + 1
        for module in norms:
            assert isinstance(module.forward, functools.partial)
            assert module.forward.args[0] is module  # the copy's forward computes the copy
    assert policy.causal_lm.state_dict().keys() == state.keys()
    restored = pickle.loads(pickle.dumps(copy.deepcopy(policy.causal_lm.model.norm)))
    x = torch.randn(2, base.config.hidden_size)
    torch.testing.assert_close(restored(x), policy.causal_lm.model.norm(x))
