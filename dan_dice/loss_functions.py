"""The training losses as plain functions of raw logits: the study's Dice, weighted BCE and MSE,
and the Dice family of Li et al. (2020), each computed in log space where powers or logarithms
of probabilities appear, so that even logits of ±1e4 give finite values and gradients; and
what weighs them (``sample_weight``, balanced class weights). :mod:`dan_dice.losses` wraps each
in a named :class:`~dan_dice.losses.Loss` module.

Binary tasks: ``z`` of shape ``(N,)`` with ``p = σ(z)`` the probability of the positive class,
and float 0/1 targets. Multi-class tasks: ``(N, C)`` logits and long class indices; the
multi-class losses also accept a binary task, read as the two-class logits ``[0, z]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

LossFn = Callable[..., Tensor]
"""``f(logits, target) -> scalar``; a loss that takes per-text weights (``sample_weight``)
also takes them as a third argument, ``f(logits, target, weight=None)`` (validation, which
is unweighted, leaves it out)."""


def weighted_mean(terms: Tensor, weight: Tensor | None) -> Tensor:
    """The mean of per-text ``terms`` (rows, for per-entry terms ``(N, L)``), each times its
    text's ``weight``: a plain mean, as class weights are, so weights of 1 change nothing."""
    if weight is None:
        return terms.mean()
    return (weight.to(terms).reshape(-1, *[1] * (terms.dim() - 1)) * terms).mean()


def weighted_sum(values: Tensor, weight: Tensor | None) -> Tensor:
    """``Σ_i w_i · values_i`` over the batch (dimension 0): the soft counts of the Dice-type
    losses, where a text of weight 2 counts as two copies, as in weighted soft Dice."""
    if weight is None:
        return values.sum(0)
    return (weight.to(values).reshape(-1, *[1] * (values.dim() - 1)) * values).sum(0)


def balanced_class_weight(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Weights ``w_c = N / (C · N_c)`` that make every class weigh as much as the others in total.

    With them, the mean of ``w_{y_i} · loss_i`` over the training set is the mean over classes of
    each class's mean loss.
    """
    y = np.asarray(y)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must hold class codes in 0..{n_classes - 1}")
    counts = np.bincount(y, minlength=n_classes)
    missing = np.flatnonzero(counts == 0).tolist()
    if missing:
        raise ValueError(
            f"balanced class weights need examples of every class, but y has none of class "
            f"{missing} ({n_classes - len(missing)} of {n_classes} classes present)"
        )
    return y.size / (n_classes * counts)


# Binary losses: logits z (N,), float targets y (N,) in {0, 1}.


def dice_loss(
    logits: Tensor, target: Tensor, smooth: float = 1.0, weight: Tensor | None = None
) -> Tensor:
    """Soft Dice over the whole batch (the study's eq. 7): ``1 − (2Σyp + s) / (Σy + Σp + s)``;
    with per-text ``weight`` every sum is weighted (weighted soft Dice).

    The smoothing ``s`` keeps a batch without positives defined (its loss is ``Σp / (Σp + s)``).
    """
    p = torch.sigmoid(logits)
    tp, positives = weighted_sum(p * target, weight), weighted_sum(target, weight)
    return 1 - (2 * tp + smooth) / (positives + weighted_sum(p, weight) + smooth)


def tversky_loss(
    logits: Tensor,
    target: Tensor,
    a: float = 0.5,
    b: float = 0.5,
    smooth: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Batch Tversky loss ``1 − TI``, ``TI = (TP + γ) / (TP + a·FP + b·FN + γ)`` with soft counts
    ``TP = Σpy``, ``FP = Σp(1−y)``, ``FN = Σ(1−p)y``.

    ``a`` and ``b`` price false positives and false negatives; ``a = b = 0.5`` is
    :func:`dice_loss` with smoothing ``2γ``. Per-text ``weight`` weighs the soft counts.
    """
    p = torch.sigmoid(logits)
    tp = weighted_sum(p * target, weight)
    fp = weighted_sum(p * (1 - target), weight)
    fn = weighted_sum((1 - p) * target, weight)
    return 1 - (tp + smooth) / (tp + a * fp + b * fn + smooth)


def weighted_bce_loss(
    logits: Tensor, target: Tensor, class_weight: Tensor, weight: Tensor | None = None
) -> Tensor:
    """Binary cross-entropy with example ``i`` weighted by ``class_weight[y_i]``: ``mean_i w_{y_i} ·
    BCE(z_i, y_i)`` (a plain mean, so balanced weights give the mean of the two class means)."""
    terms = class_weight.to(logits)[target.long()]
    terms = terms * F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return weighted_mean(terms, weight)


def focal_loss(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: float | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """Focal loss (Lin et al.): ``mean −α_t (1 − p_t)^γ log p_t``, ``p_t`` the probability of the
    true class.

    ``(1 − p_t)^γ`` shrinks the loss of easy examples; ``α_t`` is ``alpha`` for positives and
    ``1 − alpha`` for negatives (no weighting when ``alpha`` is None). ``γ = 0`` is BCE.
    """
    zt = (2 * target - 1) * logits  # p_t = σ(z_t)
    loss = -torch.exp(gamma * F.logsigmoid(-zt)) * F.logsigmoid(zt)
    if alpha is not None:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return weighted_mean(loss, weight)


def published_dsc_loss(
    logits: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    gamma: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Li et al.'s self-adjusting Dice as published: ``mean 1 − (2qy + γ) / (q + y + γ)``,
    ``q = (1 − p)^α · p``.

    It collapses: ``q`` vanishes at both ``p = 0`` and ``p = 1``. A negative costs ``q / (q + γ)``,
    nothing for a confident false positive (``p → 1``) just as for a true negative; a positive
    costs ``(1 − q) / (1 + q + γ)``, the same at ``p → 1`` as at ``p → 0`` and least at
    ``p = 1 / (1 + α)``. So for ``α > 0`` confident predictions are not rewarded and confident
    false positives are free. See :func:`dsc_loss`.
    """
    q = torch.exp(alpha * F.logsigmoid(-logits) + F.logsigmoid(logits))
    return weighted_mean((q + target - 2 * q * target) / (q + target + gamma), weight)


def dsc_loss(
    logits: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    gamma: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Self-adjusting Dice that does not collapse: ``mean (1 − p_t)^α · (1 − DSC_t)``, where
    ``DSC_t = (2p_t + γ) / (p_t + 1 + γ)`` is the per-example Dice of the true class.

    This is ``(1 − p_t)^(1+α) / (1 + γ + p_t)``: strictly decreasing in ``p_t`` for every
    ``α ≥ 0``, from ``1 / (1 + γ)`` at ``p_t = 0`` to 0 at ``p_t = 1``. The factor down-weights easy
    examples as in focal loss, but multiplies the loss instead of the probability inside the Dice
    ratio as :func:`published_dsc_loss` does, where it vanishes for confident predictions, right
    or wrong. (Putting it on ``p_t`` inside the ratio keeps that flaw for any ``α > 0``.) ``α = 0``
    is the per-example Dice loss ``1 − DSC_t``.
    """
    zt = (2 * target - 1) * logits
    terms = torch.exp((1 + alpha) * F.logsigmoid(-zt)) / (1 + gamma + torch.sigmoid(zt))
    return weighted_mean(terms, weight)


# Multi-class losses: logits (N, C), long targets (N,).


def multiclass_dice_loss(
    logits: Tensor, target: Tensor, smooth: float = 1.0, weight: Tensor | None = None
) -> Tensor:
    """``1 −`` the macro average over classes of the batch soft Dice of each class,
    ``(2Σ_i p_ic y_ic + s) / (Σ_i y_ic + Σ_i p_ic + s)``, with softmax ``p`` and one-hot ``y``;
    per-text ``weight`` weighs the sums."""
    p = torch.softmax(logits, dim=1)
    y = F.one_hot(target, logits.shape[1]).to(p)
    tp, positives = weighted_sum(p * y, weight), weighted_sum(y, weight)
    dice = (2 * tp + smooth) / (positives + weighted_sum(p, weight) + smooth)
    return 1 - dice.mean()


def weighted_cross_entropy_loss(
    logits: Tensor, target: Tensor, class_weight: Tensor, weight: Tensor | None = None
) -> Tensor:
    """Cross-entropy with example ``i`` weighted by ``class_weight[y_i]``, plain mean over the batch
    (as :func:`weighted_bce_loss`; ``F.cross_entropy`` would divide by the sum of the weights)."""
    loss = F.cross_entropy(logits, target, reduction="none")
    return weighted_mean(class_weight.to(logits)[target] * loss, weight)


def class_logits(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Binary ``(N,)`` logits ``z`` as two-class logits ``[0, z]``, with long targets."""
    if logits.dim() == 1:
        return torch.stack([torch.zeros_like(logits), logits], dim=1), target.long()
    return logits, target


def check_param(
    name: str, value: Any, low: float, high: float = math.inf, *, strict: bool = False
) -> float:
    """``value`` as a float; ValueError unless it is a finite number in [low, high] ((low, high)
    when ``strict``)."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    x = float(value) if is_number else math.nan
    inside = low < x < high if strict else low <= x <= high
    if not (inside and math.isfinite(x)):
        right = ")" if strict or math.isinf(high) else "]"
        raise ValueError(
            f"{name} must be a finite number in {'(' if strict else '['}{low}, {high}{right}, "
            f"got {value!r}"
        )
    return x
