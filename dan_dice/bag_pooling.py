"""The DAN's poolings of a batch of texts, forward and backward written out.

Autograd through the plain torch formulation of attention+max pooling (scatter-reduce maxima,
index-add sums, then ``EmbeddingBag``'s sparse gradient of one row per token, sorted and
merged by the optimiser) cost more than the rest of a training step. Here a fine-tuned batch
gathers the table rows its tokens use, once each, and pools from those; the backward is a
few passes over the tokens ending in one ``index_add`` into those rows. The table's gradient
then has one row per word used, already sorted and summed, rather than a row per token that
the optimiser (:class:`~dan_dice.training.LazyAdam`) must sort and merge.

On the CPU the pooling itself runs as numba kernels of one pass a text each way
(:mod:`dan_dice.fused_pooling`); :class:`TorchPool`, the same forward and backward in torch
operations, serves other devices. ``tests/reference_model.py`` keeps the plain formulation;
the tests hold the three to the same outputs, gradients and updates.
"""

from __future__ import annotations

import torch
from torch import nn

from .fused_pooling import FusedPool


def bag_of_token(offsets: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Index of the text each token belongs to (offsets must be sorted, texts non-empty)."""
    starts = torch.zeros(n_tokens, dtype=torch.long, device=offsets.device)
    starts[offsets[1:]] = 1
    return torch.cumsum(starts, 0)


def unique_rows(ids: torch.Tensor, n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct ids, sorted, and each token's position among them: ``rows[inverse] == ids``.

    A mark per table row instead of a sort: a batch's few thousand ids in a table of tens of
    thousands of rows (a fifth of the sort's time)."""
    marked = torch.zeros(n_rows, dtype=torch.bool, device=ids.device).index_fill_(0, ids, True)
    rows = marked.nonzero().squeeze(1)
    position = torch.empty(n_rows, dtype=torch.long, device=ids.device)
    position.index_copy_(0, rows, torch.arange(len(rows), device=ids.device))
    return rows, position.index_select(0, ids)


class GatherRows(torch.autograd.Function):
    """``table[rows]`` for sorted, unique ``rows``; the table's gradient is a sparse tensor
    of those rows, in that order: :class:`~dan_dice.training.LazyAdam` updates them as they
    are on the CPU (autograd drops the coalesced mark, so other devices' path sorts them)."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rows)
        ctx.shape = table.shape
        return table.index_select(0, rows)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (rows,) = ctx.saved_tensors
        gradient = torch.sparse_coo_tensor(
            rows[None], grad, ctx.shape, check_invariants=False, is_coalesced=True
        )
        return gradient, None


class TorchPool(torch.autograd.Function):
    """Mean, attention-weighted mean and maximum of each text's token vectors, side by side
    (``parts``, in that order); forward and backward in a few passes over the tokens."""

    @staticmethod
    def forward(ctx, table, attention, ids, offsets, parts):
        n_texts, dim = len(offsets), table.shape[1]
        bag = bag_of_token(offsets, len(ids))
        vectors = table.index_select(0, ids) if parts != ("mean",) else table[:0]
        outputs, ctx.weights, ctx.pooled = [], None, None
        if "mean" in parts:
            outputs.append(nn.functional.embedding_bag(ids, table, offsets, mode="mean"))
        if "attention" in parts:
            scores = vectors @ attention
            top = scores.new_full((n_texts,), -torch.inf).scatter_reduce(0, bag, scores, "amax")
            exp = torch.exp(scores - top.index_select(0, bag))
            total = torch.zeros_like(top).index_add_(0, bag, exp)
            ctx.weights = exp / total.index_select(0, bag)
            ctx.pooled = nn.functional.embedding_bag(
                ids, table, offsets, mode="sum", per_sample_weights=ctx.weights
            )
            outputs.append(ctx.pooled)
        if "max" in parts:
            top = vectors.new_full((n_texts, dim), -torch.inf)
            outputs.append(top.scatter_reduce(0, bag[:, None].expand_as(vectors), vectors, "amax"))
        ctx.parts, ctx.shape = parts, table.shape
        ctx.save_for_backward(attention, ids, bag, vectors, outputs[-1])
        return torch.cat(outputs, 1) if len(outputs) > 1 else outputs[0]

    @staticmethod
    def backward(ctx, grad):
        attention, ids, bag, vectors, maxima = ctx.saved_tensors
        grads = dict(zip(ctx.parts, grad.split(ctx.shape[1], 1), strict=True))
        to_table = ctx.needs_input_grad[0]  # a frozen table: the attention vector's alone
        spread = grad_attention = None
        if "mean" in grads and to_table:
            lengths = torch.bincount(bag, minlength=len(grad)).to(grad.dtype)
            spread = (grads["mean"] / lengths[:, None]).index_select(0, bag)
        if "attention" in grads:
            g, weights = grads["attention"], ctx.weights
            spread = g.index_select(0, bag)
            # d pooled / d score_i = w_i (v_i - pooled): the softmax's Jacobian
            through = torch.linalg.vecdot(spread, vectors)
            through -= torch.linalg.vecdot(g, ctx.pooled).index_select(0, bag)
            grad_scores = weights * through
            grad_attention = grad_scores @ vectors
            if to_table:
                spread.mul_(weights[:, None]).addr_(grad_scores, attention)
        if not to_table:
            return None, grad_attention, None, None, None
        if "max" in grads:  # tied tokens share the gradient, as torch's amax does
            hit = (vectors == maxima.index_select(0, bag)).to(grad.dtype)
            ties = torch.zeros_like(maxima).index_add_(0, bag, hit)
            share = hit.mul_((grads["max"] / ties).index_select(0, bag))
            spread = share if spread is None else spread.add_(share)
        grad_table = grad.new_zeros(ctx.shape).index_add_(0, ids, spread)
        return grad_table, grad_attention, None, None, None


def pool_bags(
    table: torch.Tensor,
    ids: torch.Tensor,
    offsets: torch.Tensor,
    parts: tuple[str, ...],
    attention: torch.Tensor | None = None,
    pool: type[torch.autograd.Function] | None = None,
) -> torch.Tensor:
    """Each text's pooled vector: its ``parts`` (``"mean"``, ``"attention"``, ``"max"``, in
    that order) side by side, from the rows ``table[ids]`` of the texts starting at
    ``offsets``; ``attention`` is the scoring vector of the attention part. A table being
    fine-tuned gets a sparse gradient of one row per distinct id (:class:`GatherRows`). ``pool``
    pools; by default the numba kernels of :mod:`dan_dice.fused_pooling` on the CPU,
    :class:`TorchPool` elsewhere."""
    if attention is None:
        attention = table.new_zeros(table.shape[1])
    if table.requires_grad and torch.is_grad_enabled():
        rows, ids = unique_rows(ids, len(table))
        table = GatherRows.apply(table, rows)
    if pool is None:
        pool = FusedPool if table.device.type == "cpu" else TorchPool
    return pool.apply(table, attention, ids, offsets, parts)
