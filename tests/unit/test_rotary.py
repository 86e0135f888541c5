"""openrft.rotary: the rotary embedding decoding and training share."""

import torch
import transformers

from openrft.rotary import rotate, rotate_transposed


def test_rotation_is_transformers_and_its_backward_the_transpose() -> None:
    """With cos and sin whose halves differ (not what Llama's tables hold), so a backward that
    used the wrong half would fail."""
    torch.manual_seed(3)
    x = torch.randn(5, 3, 8, requires_grad=True)
    cos, sin = torch.randn(5, 1, 8), torch.randn(5, 1, 8)
    llama = transformers.models.llama.modeling_llama
    expected = x * cos + llama.rotate_half(x) * sin
    torch.testing.assert_close(rotate(x, cos, sin), expected)
    g = torch.randn_like(expected)
    (grad,) = torch.autograd.grad(expected, x, g)
    torch.testing.assert_close(rotate_transposed(g, cos, sin), grad)
