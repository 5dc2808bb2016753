"""The poolings' forward and backward on the CPU as numba kernels: one pass a text each way.

:mod:`dan_dice.bag_pooling`'s torch formulation makes each part of a pooling (gathers, the
softmax's sums, the maximum's scatter and its ties) a pass over the batch's tokens ×
dimensions; attention+max took five times the fused kernels' time on a cyberbullying batch,
and more than the mean's torch pooling (``reports/fused_pooling.md``). Here each text's rows
are read once forward (scores, softmax, weighted or plain mean, maximum) and once backward,
where each token's gradient goes straight into its table row. Tied maxima share the
gradient, as ``torch.amax`` gives it. Sums run in another order than torch's, so results
match torch's to float rounding, not bit for bit.

Kernels are compiled on first use and cached on disk (numba's ``cache=True``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

_jit = numba.njit(cache=True, fastmath=True, boundscheck=False, nogil=True)


@_jit
def _forward(table, attention, ids, offsets, n_tokens, first, has_max, zero, out, weights):
    """Pool each text of ``ids`` (starting at ``offsets``) into ``out``: ``first`` 0 (no
    first part), 1 (mean) or 2 (attention), then the maximum if ``has_max``. ``weights`` gets
    each token's attention weight."""
    n_texts, dim = out.shape[0], table.shape[1]
    at_max = dim if first else 0
    for b in range(n_texts):
        start, end = offsets[b], offsets[b + 1] if b + 1 < n_texts else n_tokens
        if first == 2:
            for t in range(start, end):
                row, score = table[ids[t]], zero
                for d in range(dim):
                    score += row[d] * attention[d]
                weights[t] = score
            top = weights[start]
            for t in range(start + 1, end):
                top = max(top, weights[t])
            total = zero
            for t in range(start, end):
                weights[t] = math.exp(weights[t] - top)
                total += weights[t]
            for t in range(start, end):
                weights[t] /= total
        elif first == 1:
            for t in range(start, end):
                weights[t] = 1 / (end - start)
        if first:
            pooled = out[b, :dim]
            pooled[:] = 0
            for t in range(start, end):
                row, w = table[ids[t]], weights[t]
                for d in range(dim):
                    pooled[d] += w * row[d]
        if has_max:
            maxima = out[b, at_max : at_max + dim]
            maxima[:] = table[ids[start]]
            for t in range(start + 1, end):
                row = table[ids[t]]
                for d in range(dim):
                    maxima[d] = max(maxima[d], row[d])


@_jit
def _backward(
    table, attention, ids, offsets, n_tokens, first, has_max, zero, out, weights, grad, grad_table
):
    """Add each token's gradient to its row of ``grad_table`` (when it has rows) and return
    the attention vector's gradient, from ``grad`` (that of ``out``)."""
    n_texts, dim = out.shape[0], table.shape[1]
    at_max = dim if first else 0
    to_table = grad_table.shape[0] > 0
    grad_attention = np.zeros(dim, dtype=weights.dtype)
    share = np.zeros(dim, dtype=weights.dtype)
    for b in range(n_texts):
        start, end = offsets[b], offsets[b + 1] if b + 1 < n_texts else n_tokens
        g, maxima = grad[b, :dim], out[b, at_max : at_max + dim]
        if has_max:
            share[:] = 0
            for t in range(start, end):
                row = table[ids[t]]
                for d in range(dim):
                    share[d] += row[d] == maxima[d]
            for d in range(dim):  # tied maxima share it, as torch.amax's gradient does
                share[d] = grad[b, at_max + d] / share[d]
        through_pooled = zero
        if first == 2:
            for d in range(dim):
                through_pooled += g[d] * out[b, d]
        for t in range(start, end):
            row, w = table[ids[t]], weights[t]
            grad_score = zero
            if first == 2:  # d pooled / d score_t = w_t (v_t - pooled): the softmax's Jacobian
                through = zero
                for d in range(dim):
                    through += g[d] * row[d]
                grad_score = w * (through - through_pooled)
                for d in range(dim):
                    grad_attention[d] += grad_score * row[d]
            if to_table:
                target = grad_table[ids[t]]
                for d in range(dim):
                    step = zero
                    if first:
                        step += w * g[d] + grad_score * attention[d]
                    if has_max:
                        step += share[d] * (row[d] == maxima[d])
                    target[d] += step
    return grad_attention


class FusedPool(torch.autograd.Function):
    """:func:`~dan_dice.bag_pooling.pool_bags`'s pooling of a CPU table by the kernels above;
    the table's gradient is dense over its rows (the gathered rows of a fine-tuned batch)."""

    @staticmethod
    def forward(ctx, table, attention, ids, offsets, parts):
        vectors = table.detach().numpy()
        first = 2 if "attention" in parts else 1 if "mean" in parts else 0
        has_max = "max" in parts
        out = np.empty((len(offsets), vectors.shape[1] * len(parts)), dtype=vectors.dtype)
        weights = np.empty(len(ids), dtype=vectors.dtype)
        vector = attention.detach().numpy()
        args = (vectors, vector, ids.numpy(), offsets.numpy(), len(ids), first, has_max)
        _forward(*args, vectors.dtype.type(0), out, weights)
        ctx.args, ctx.out, ctx.weights = args, out, weights
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):
        vectors = ctx.args[0]
        rows = len(vectors) if ctx.needs_input_grad[0] else 0
        grad_table = np.zeros((rows, vectors.shape[1]), dtype=vectors.dtype)
        upstream = np.ascontiguousarray(grad.numpy())
        zero = vectors.dtype.type(0)
        grad_attention = _backward(*ctx.args, zero, ctx.out, ctx.weights, upstream, grad_table)
        table_grad = torch.from_numpy(grad_table) if rows else None
        attention_grad = torch.from_numpy(grad_attention) if ctx.needs_input_grad[1] else None
        return table_grad, attention_grad, None, None, None
