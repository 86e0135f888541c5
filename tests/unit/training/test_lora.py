import copy
import json
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from openrft import dense
from openrft.training import lora
from openrft.training.lora import FusedLoraLinear
from openrft.training.policy import Policy


class TwoLayers(nn.Module):
    def __init__(self, width: int = 12, hidden: int = 20) -> None:
        super().__init__()
        self.up = nn.Linear(width, hidden)  # with bias
        self.down = nn.Linear(hidden, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.up(x)))


def _adapted(base: nn.Module, fused: bool, dropout: float = 0.0) -> PeftModel:
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=dropout,
        target_modules=["up", "down"],
        init_lora_weights=False,  # B != 0, so the adapter changes the output
    )
    if fused:
        config._register_custom_module({nn.Linear: FusedLoraLinear})
    torch.manual_seed(1)
    return get_peft_model(copy.deepcopy(base), config)


def _output_and_grads(model: PeftModel, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x = x.clone().requires_grad_(True)
    out = model(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    return (out.detach(), x.grad, *grads)


# A toy size, and a model-sized one whose base matmuls run on oneDNN (openrft.dense) on x86.
@pytest.mark.parametrize(("width", "hidden", "tokens"), [(12, 20, 5), (576, 1536, 128)])
@pytest.mark.usefixtures("onednn_preferred")
def test_fused_layers_compute_pefts_outputs_and_gradients(
    monkeypatch: pytest.MonkeyPatch, width: int, hidden: int, tokens: int
) -> None:
    torch.manual_seed(0)
    base, x = TwoLayers(width, hidden), torch.randn(3, tokens, width)
    fused_calls: list[int] = []
    apply = lora._LoraLinear.apply
    monkeypatch.setattr(lora._LoraLinear, "apply", lambda *a: (fused_calls.append(1), apply(*a))[1])
    expected = _output_and_grads(_adapted(base, fused=False), x)
    fused = _adapted(base, fused=True)
    with torch.profiler.profile() as profile:
        got = _output_and_grads(fused, x)
    assert isinstance(fused.base_model.model.up, FusedLoraLinear)
    assert fused_calls == [1, 1]  # both layers took the fused path
    onednn_calls = sum(e.count for e in profile.key_averages() if "_linear_pointwise" in e.key)
    # Forward and input gradient of both layers, when the products are large enough.
    assert onednn_calls == (4 if dense.ONEDNN and width > 100 else 0)
    assert len(got) == len(expected) == 6  # output, input grad, 2 x (A, B)
    for a, b in zip(got, expected, strict=True):
        assert (a - b).abs().max() <= 1e-5 * b.abs().max()  # float32 rounding, summed in any order
    with fused.disable_adapter():  # peft's own path: the base model alone
        assert torch.equal(fused(x), base(x))


def test_dropout_takes_pefts_path(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _adapted(TwoLayers(), fused=True, dropout=0.5)
    monkeypatch.setattr(lora._LoraLinear, "apply", lambda *a: pytest.fail("fused with dropout"))
    model(torch.randn(2, 12))


def test_policy_adapter_saves_as_plain_peft(tiny, tmp_path: Path) -> None:
    """The fused class leaves no trace in the saved adapter: plain peft loads it."""
    policy = Policy(*tiny, lora_rank=4, lora_alpha=8.0, beta=0.0)
    layers = [m for m in policy.model.modules() if isinstance(m, FusedLoraLinear)]
    assert len(layers) == 14  # 2 layers x 7 linear projections of tiny-random-llama
    with torch.no_grad():
        for layer in layers:
            layer.lora_B["default"].weight.normal_()
    policy.save(tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())
    assert "custom" not in json.dumps(saved).lower()
    ids = torch.tensor([[1, 5, 9, 2]])
    with torch.no_grad():
        expected = policy.model(input_ids=ids).logits
    base = copy.deepcopy(policy.model).unload()  # the bare base model, adapter removed
    reloaded = PeftModel.from_pretrained(base, tmp_path).eval()
    assert not any(isinstance(m, FusedLoraLinear) for m in reloaded.modules())
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids=ids).logits, expected, atol=1e-5)
