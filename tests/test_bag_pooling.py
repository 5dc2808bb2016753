"""Tests for dan_dice.bag_pooling and the lean training step: the same outputs, gradients and
updates as the plain step kept in ``tests/reference_model.py`` (autograd through torch's own
operations, ``EmbeddingBag``'s sparse gradient, ``torch.optim.SparseAdam``)."""

import itertools

import numpy as np
import pytest
import torch
from reference_model import ReferenceDAN

from dan_dice.bag_pooling import pool_bags, unique_rows
from dan_dice.model import DAN
from dan_dice.pooling import POOLINGS
from dan_dice.training import LazyAdam, make_optimizers

N_ROWS, DIM = 40, 6


def batch(seed: int = 0, n_texts: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids, offsets and 0/1 labels of random texts, 1 to 14 tokens each, repeats in."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 15, size=n_texts)
    ids = torch.tensor(rng.integers(0, N_ROWS, size=lengths.sum()))
    offsets = torch.tensor(np.r_[0, np.cumsum(lengths)[:-1]])
    return ids, offsets, torch.tensor(rng.integers(0, 2, size=n_texts)).float()


def table(tied: bool = True) -> np.ndarray:
    """Random vectors; with ``tied`` the last ten rows are one vector, as the unknown words'
    mean-vector rows are before training: a maximum then has ties across rows."""
    vectors = np.random.default_rng(1).normal(size=(N_ROWS, DIM)).astype(np.float32)
    if tied:
        vectors[-10:] = vectors[-10]
    return vectors


def train_steps(model_class, pooling: str, frozen: bool, sparse_adam: bool, steps: int = 6):
    """The logits, gradients and weights after ``steps`` training steps from one seed."""
    torch.manual_seed(0)
    model = model_class(
        table(),
        hidden_sizes=(8, 5),
        pooling=pooling,
        freeze_embeddings=frozen,
        word_dropout=0.3,
        dropout=0.2,
    )
    if "attention" in pooling:
        with torch.no_grad():
            model.attention.normal_(0, 0.5)
    optimizers = make_optimizers(model, 1e-2)
    if sparse_adam and not frozen:
        optimizers[1] = torch.optim.SparseAdam([model.embedding.weight], lr=1e-2)
    torch.manual_seed(1)
    for step in range(steps):
        ids, offsets, y = batch(step)
        logits = model(ids, offsets)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        grads = {
            name: p.grad.to_dense() if p.grad.is_sparse else p.grad.clone()
            for name, p in model.named_parameters()
            if p.grad is not None
        }
        for optimizer in optimizers:
            optimizer.step()
    return logits.detach(), grads, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_lean_step_makes_the_reference_steps_updates(pooling, frozen):
    """Six steps with word dropout, dropout and tied rows: the lean step (gathered rows, the
    hand-written backward, LazyAdam) and today's reference step (SparseAdam) agree."""
    lean = train_steps(DAN, pooling, frozen, sparse_adam=False)
    reference = train_steps(ReferenceDAN, pooling, frozen, sparse_adam=True)
    torch.testing.assert_close(lean[0], reference[0], rtol=1e-5, atol=1e-6)
    assert lean[1].keys() == reference[1].keys()
    for name in lean[1]:
        torch.testing.assert_close(lean[1][name], reference[1][name], rtol=1e-5, atol=1e-6)
    for name in reference[2]:
        torch.testing.assert_close(lean[2][name], reference[2][name], rtol=1e-5, atol=1e-6)


def plain_pool(weights, attention, ids, offsets, pooling) -> torch.Tensor:
    """Each text pooled by torch's own operations, one text at a time."""
    bounds = [*offsets.tolist(), len(ids)]
    pooled = []
    for start, stop in itertools.pairwise(bounds):
        vectors = weights[ids[start:stop]]
        parts = {
            "mean": vectors.mean(0),
            "attention": torch.softmax(vectors @ attention, 0) @ vectors,
            "max": vectors.amax(0),
        }
        pooled.append(torch.cat([parts[name] for name in pooling.split("+")]))
    return torch.stack(pooled)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_and_its_gradients_match_autograd_text_by_text(pooling):
    """In double precision, with tied rows: the outputs, the table's (sparse) gradient and the
    attention vector's match autograd through a plain per-text formulation."""
    ids, offsets, _ = batch(3, n_texts=9)
    grads = []
    for pool in (plain_pool, None):
        torch.manual_seed(0)
        weights = torch.tensor(table(), dtype=torch.float64, requires_grad=True)
        attention = torch.randn(DIM, dtype=torch.float64, requires_grad=True)
        if pool is None:
            out = pool_bags(weights, ids, offsets, tuple(pooling.split("+")), attention)
        else:
            out = pool(weights, attention, ids, offsets, pooling)
        (out * torch.linspace(-1, 2, out.numel()).view_as(out)).sum().backward()
        grads.append((out.detach(), weights.grad.to_dense(), attention.grad))
    for lean, plain in zip(grads[1], grads[0], strict=True):
        if plain is None:  # no attention part: no gradient either way
            assert lean is None or not lean.any()
        else:
            torch.testing.assert_close(lean, plain)


def test_ties_in_a_maximum_share_the_gradient():
    """Two texts of two distinct rows with equal vectors: each row gets half of the maximum's
    gradient, as ``torch.amax`` gives it."""
    weights = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 5.0]], requires_grad=True)
    ids, offsets = torch.tensor([0, 1, 0, 2]), torch.tensor([0, 2])
    pool_bags(weights, ids, offsets, ("max",)).sum().backward()
    dense = weights.grad.to_dense()
    torch.testing.assert_close(dense, torch.tensor([[1.5, 0.5], [0.5, 0.5], [0.0, 1.0]]))


def test_fine_tuned_table_gets_one_sorted_row_per_distinct_id():
    weights = torch.randn(10, 3, requires_grad=True)
    ids, offsets = torch.tensor([7, 2, 7, 2, 5]), torch.tensor([0, 3])
    pool_bags(weights, ids, offsets, ("mean",)).sum().backward()
    grad = weights.grad
    assert grad.is_sparse
    assert grad._nnz() == 3  # nothing left to merge
    assert grad.coalesce().indices()[0].tolist() == [2, 5, 7]


def test_unique_rows_inverts():
    ids = torch.tensor([5, 3, 5, 9, 0, 3])
    rows, inverse = unique_rows(ids, 12)
    assert rows.tolist() == [0, 3, 5, 9]
    assert torch.equal(rows[inverse], ids)


def test_lazy_adam_is_sparse_adam():
    """Same updates as torch's SparseAdam over steps touching different rows, one untouched."""
    torch.manual_seed(0)
    start = torch.randn(8, 3)
    lazy, sparse = (torch.nn.Parameter(start.clone()) for _ in range(2))
    optimizers = LazyAdam([lazy], lr=0.1), torch.optim.SparseAdam([sparse], lr=0.1)
    for rows in ([1, 4, 6], [4, 2], [1, 2, 6, 7], [6, 1, 6]):  # unsorted, repeated: coalesced
        index = torch.tensor(rows)
        values = torch.randn(len(rows), 3)
        for param, optimizer in zip((lazy, sparse), optimizers, strict=True):
            param.grad = torch.sparse_coo_tensor(index[None], values, (8, 3))
            optimizer.step()
    torch.testing.assert_close(lazy, sparse)
    torch.testing.assert_close(lazy[[0, 3, 5]], start[[0, 3, 5]])  # never touched


def test_lazy_adams_cpu_kernel_and_torch_path_agree():
    """The numba update (the CPU's) and the gathers and scatters (other devices') move the
    same rows the same way, and the kernel refuses rows that are not sorted and unique."""
    from dan_dice.training import _adam_rows, _adam_rows_cpu

    torch.manual_seed(0)  # rows of 37: the kernel's vectorised body and its remainder
    start = [torch.randn(9, 37), torch.randn(9, 37), torch.rand(9, 37)]
    rows, values = torch.tensor([0, 3, 4, 8]), torch.randn(4, 37)
    rule = 0.05, 0.9, 0.999, 1e-8
    by_torch, by_numba = [t.clone() for t in start], [t.clone() for t in start]
    _adam_rows(*by_torch, rows, values, *rule)
    assert _adam_rows_cpu(*(t.numpy() for t in by_numba), rows.numpy(), values.numpy(), *rule)
    for moved, expected, before in zip(by_numba, by_torch, start, strict=True):
        torch.testing.assert_close(moved, expected)
        assert not torch.equal(moved[rows], before[rows])
        torch.testing.assert_close(moved[[1, 2, 5, 6, 7]], before[[1, 2, 5, 6, 7]])
    unsorted = [t.clone() for t in start]
    arrays = [t.numpy() for t in unsorted]
    assert not _adam_rows_cpu(*arrays, np.array([3, 0]), values[:2].numpy(), *rule)
    assert not _adam_rows_cpu(*arrays, np.array([3, 3]), values[:2].numpy(), *rule)
    for left, before in zip(unsorted, start, strict=True):
        assert torch.equal(left, before)


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_fused_kernels_and_the_torch_pooling_agree(pooling, frozen):
    """The CPU's numba kernels and the torch formulation (the GPU's path, run here on the CPU)
    give the same outputs and gradients, in double precision, with tied rows."""
    from dan_dice.bag_pooling import TorchPool
    from dan_dice.fused_pooling import FusedPool

    ids, offsets, _ = batch(5, n_texts=11)
    parts = tuple(pooling.split("+"))
    results = []
    for pool in (FusedPool, TorchPool):
        torch.manual_seed(0)
        weights = torch.tensor(table(), dtype=torch.float64, requires_grad=not frozen)
        attention = torch.randn(DIM, dtype=torch.float64, requires_grad=True)
        out = pool.apply(weights, attention, ids, offsets, parts)
        (out * torch.linspace(-1, 2, out.numel()).view_as(out)).sum().backward()
        table_grad = None if frozen else weights.grad
        attention_grad = attention.grad if "attention" in parts else None
        results.append((out.detach(), table_grad, attention_grad))
    for fused, plain in zip(*results, strict=True):
        if plain is None:
            assert fused is None or not fused.any()
        else:
            torch.testing.assert_close(fused, plain)
