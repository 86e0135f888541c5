import torch

from openrft.rl import completion_logprobs, entropy_from_logits, selective_log_softmax


def test_selective_log_softmax_matches_naive_with_temperature() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 11)
    index = torch.randint(0, 11, (5,))
    naive = torch.log_softmax(logits / 0.7, -1).gather(-1, index[:, None]).squeeze(-1)
    assert torch.allclose(selective_log_softmax(logits, index, 0.7), naive, atol=1e-6)


def test_entropy_of_uniform_is_log_v() -> None:
    ent = entropy_from_logits(torch.zeros(3, 8))
    assert torch.allclose(ent, torch.full((3,), torch.log(torch.tensor(8.0)).item()))


def test_chunked_completion_logprobs_equal_full_and_give_same_gradients() -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(6, 13, bias=False)
    hidden = torch.randn(10, 6, requires_grad=True)
    tokens = torch.randint(0, 13, (10,))

    logp, ent = completion_logprobs(hidden, tokens, head, temperature=0.8, chunk_tokens=3)
    logp.sum().backward()
    grad_chunked = hidden.grad.clone()
    head_grad_chunked = head.weight.grad.clone()

    hidden.grad = None
    head.weight.grad = None
    full = torch.log_softmax(head(hidden) / 0.8, -1)
    ref = full.gather(-1, tokens[:, None]).squeeze(-1)
    ref.sum().backward()

    assert torch.allclose(logp, ref, atol=1e-6)
    assert torch.allclose(ent, entropy_from_logits(head(hidden).detach(), 0.8), atol=1e-6)
    assert not ent.requires_grad
    assert torch.allclose(grad_chunked, hidden.grad, atol=1e-6)
    assert torch.allclose(head_grad_chunked, head.weight.grad, atol=1e-6)


def test_completion_logprobs_without_grad_and_empty() -> None:
    head = torch.nn.Linear(4, 5, bias=False)
    with torch.no_grad():
        logp, _ = completion_logprobs(torch.randn(3, 4), torch.tensor([0, 1, 2]), head)
    assert logp.shape == (3,)
    assert (logp <= 0).all()
    empty, _ = completion_logprobs(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), head)
    assert empty.shape == (0,)


def test_frozen_head_gradient_to_hidden_equals_autograd_through_full_logits() -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(6, 13, bias=False).requires_grad_(False)
    hidden = torch.randn(10, 6, requires_grad=True)
    tokens = torch.randint(0, 13, (10,))
    weights = torch.randn(10)  # a loss that weighs each token differently

    logp, ent = completion_logprobs(hidden, tokens, head, temperature=0.8, chunk_tokens=3)
    (logp * weights).sum().backward()
    fused_grad = hidden.grad.clone()

    hidden.grad = None
    full = torch.log_softmax(head(hidden) / 0.8, -1).gather(-1, tokens[:, None]).squeeze(-1)
    (full * weights).sum().backward()

    assert torch.allclose(logp, full, atol=1e-6)
    assert torch.allclose(ent, entropy_from_logits(head(hidden).detach(), 0.8), atol=1e-6)
    assert not ent.requires_grad
    assert torch.allclose(fused_grad, hidden.grad, atol=1e-6)
