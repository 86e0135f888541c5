import time
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from openrft import dense

onednn = pytest.mark.skipif(not dense.ONEDNN, reason="oneDNN's linear runs on x86 CPUs only")


def _onednn_calls(fn, *args) -> tuple[torch.Tensor, int]:  # type: ignore[no-untyped-def]
    with torch.profiler.profile() as profile:
        out = fn(*args)
    return out, sum(e.count for e in profile.key_averages() if "_linear_pointwise" in e.key)


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> bool:
    return bool((a.float() - b.float()).abs().max() <= tol * b.float().abs().max())


def _slowed(fn):  # type: ignore[no-untyped-def]
    def slow(*args):  # type: ignore[no-untyped-def]
        time.sleep(0.01)  # far beyond either library's time for these shapes
        return fn(*args)

    return slow


@onednn
@pytest.mark.usefixtures("onednn_preferred")
@pytest.mark.parametrize("shape", [(64, 576), (2, 40, 576)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_large_products_run_on_onednn_and_equal_f_linear(shape: tuple, with_bias: bool) -> None:
    torch.manual_seed(0)
    x, weight = torch.randn(shape), torch.randn(1536, 576)
    bias = torch.randn(1536) if with_bias else None
    out, calls = _onednn_calls(dense.linear, x, weight, bias)
    assert calls == 1
    assert out.shape == (*shape[:-1], 1536)
    assert _close(out, F.linear(x, weight, bias), 1e-5)


@onednn
@pytest.mark.usefixtures("onednn_preferred")
def test_a_transposed_weight_view_computes_x_times_w() -> None:
    torch.manual_seed(0)
    grad, weight = torch.randn(384, 1536), torch.randn(1536, 576)
    out, calls = _onednn_calls(dense.linear, grad, weight.T)
    assert calls == 1
    assert _close(out, grad @ weight, 1e-5)


@onednn
@pytest.mark.usefixtures("onednn_preferred")
def test_bfloat16_runs_on_onednn() -> None:
    torch.manual_seed(0)
    x, weight = torch.randn(64, 576).bfloat16(), torch.randn(1536, 576).bfloat16()
    out, calls = _onednn_calls(dense.linear, x, weight)
    assert calls == 1 and out.dtype == torch.bfloat16
    assert _close(out, F.linear(x, weight), 1e-2)


@onednn
@pytest.mark.parametrize("slow_library", ["onednn", "mkl"])
def test_each_shape_takes_the_library_measured_faster(
    monkeypatch: pytest.MonkeyPatch, slow_library: str
) -> None:
    monkeypatch.setattr(dense, "_onednn_faster", {})
    if slow_library == "onednn":
        monkeypatch.setattr(dense, "onednn_linear", _slowed(dense.onednn_linear))
    else:
        monkeypatch.setattr(dense, "F", SimpleNamespace(linear=_slowed(F.linear)))
    x, weight = torch.randn(64, 576), torch.randn(1536, 576)
    dense.linear(x, weight)  # the first call of the shape times both
    out, calls = _onednn_calls(dense.linear, x, weight)
    assert calls == (0 if slow_library == "onednn" else 1)
    assert _close(out, F.linear(x, weight), 1e-5)


@onednn
def test_a_shape_is_timed_once_with_rows_bucketed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "_onednn_faster", {})
    timed: list[tuple[int, ...]] = []
    wins = dense._onednn_wins

    def recorded(x: torch.Tensor, *args: torch.Tensor | None) -> bool:
        timed.append(tuple(x.shape))
        return wins(x, *args)

    monkeypatch.setattr(dense, "_onednn_wins", recorded)
    weight = torch.randn(1536, 576)
    for rows in (40, 50, 63, 40, 64, 100):  # buckets: 32-63, 64-127
        dense.linear(torch.randn(rows, 576), weight)
    dense.linear(torch.randn(40, 576), weight.T.contiguous().T)  # another weight layout
    assert timed == [(40, 576), (64, 576), (40, 576)]


@pytest.mark.parametrize(
    "case",
    ["small product", "records gradient", "mixed dtypes", "float64", "vector input"],
)
@pytest.mark.usefixtures("onednn_preferred")
def test_other_calls_take_f_linear(case: str) -> None:
    x, weight = torch.randn(64, 576), torch.randn(1536, 576)
    if case == "small product":  # below MIN_MULTIPLY_ADDS: oneDNN's fixed cost loses
        x, weight = torch.randn(8, 576), torch.randn(192, 576)
    elif case == "records gradient":  # the op has no autograd formula
        x.requires_grad_(True)
    elif case == "mixed dtypes":
        weight = weight.bfloat16()
    elif case == "float64":
        x, weight = x.double(), weight.double()
    elif case == "vector input":
        x = torch.randn(576 * 64)[:576]
    if case == "mixed dtypes":
        with pytest.raises(RuntimeError):  # as F.linear itself refuses
            dense.linear(x, weight)
        return
    out, calls = _onednn_calls(dense.linear, x, weight)
    assert calls == 0
    assert torch.equal(out, F.linear(x, weight))
    if case == "records gradient":
        out.sum().backward()
        assert x.grad is not None and _close(x.grad, weight.sum(0).expand_as(x), 1e-5)


@onednn
@pytest.mark.usefixtures("onednn_preferred")
def test_no_grad_takes_onednn_even_for_parameters() -> None:
    layer = torch.nn.Linear(576, 1536)
    x = torch.randn(64, 576)
    with torch.no_grad():
        out, calls = _onednn_calls(dense.linear, x, layer.weight, layer.bias)
    assert calls == 1
    assert _close(out, layer(x).detach(), 1e-5)
