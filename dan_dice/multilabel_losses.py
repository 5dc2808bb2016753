"""Training losses for multi-label text classification with long-tailed label distributions.

Every loss takes logits ``z`` of shape ``(N, L)``, one sigmoid output per label (``p = σ(z)``),
and a float 0/1 target of the same shape, and returns a scalar. Rows without any positive label
and batches where a label has no positive are both allowed. As in :mod:`dan_dice.losses`,
powers and logarithms of probabilities are taken in log space (``logsigmoid``, ``softplus``) so
that logits of ±1e4 give finite values and gradients.

The re-balancing losses count each label's positives ``n_k`` in the training indicator:
class-balanced (Cui et al., CVPR 2019) and distribution-balanced (Wu et al., ECCV 2020), with the
settings Huang et al. (EMNLP 2021) used for multi-label text. :func:`get_multilabel_loss` builds
one by name for a training indicator.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .loss_functions import LossFn, check_param, focal_loss, weighted_mean, weighted_sum
from .losses import BCELoss, Loss


def _check_flag(name: str, value: Any) -> bool:
    """``value`` if it is a bool; ValueError otherwise (1 or "yes" are refused, not guessed)."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_counts(label_counts: Any) -> np.ndarray:
    """Training positives per label as floats; ValueError naming the labels without any."""
    counts = np.asarray(label_counts, dtype=float)
    if counts.ndim != 1 or counts.size == 0 or not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError(f"label_counts must be one count >= 0 per label, got {label_counts!r}")
    missing = np.flatnonzero(counts == 0).tolist()
    if missing:
        raise ValueError(
            f"label(s) {missing} have no positive in the training indicator "
            f"({counts.size - len(missing)} of {counts.size} labels present); the label-count "
            f"weights need at least one positive text per label"
        )
    return counts


def _label_counts(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Positives per label of the ``(n, n_classes)`` training indicator ``y``."""
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] != n_classes:
        raise ValueError(f"the training indicator must have shape (n, {n_classes}), got {y.shape}")
    return y.sum(axis=0)


def _focal_entries(zt: Tensor, gamma: float) -> Tensor:
    """Per-entry ``(1 − p_t)^γ · (−log p_t)`` with ``p_t = σ(z_t)``, in log space."""
    loss = F.softplus(-zt)
    return torch.exp(gamma * F.logsigmoid(-zt)) * loss if gamma else loss


def multilabel_dice_loss(
    logits: Tensor, target: Tensor, smooth: float = 0.01, weight: Tensor | None = None
) -> Tensor:
    """``1 −`` the mean, over the labels that have a positive in the batch, of each label's
    batch soft Dice ``(2Σ_i p_ik y_ik + s) / (Σ_i p_ik + Σ_i y_ik + s)``; over every label
    when none has.

    Labels absent from a batch are left out because on long-tailed data they are most labels
    of most batches: their terms ``s / (Σ_i p_ik + s)`` only reward predicting nothing, and with
    them (or with a large ``s``) the network learned to predict no label at all within one
    epoch on GoEmotions (dev macro-F1 0.04), while this form learns (0.39 after 30 epochs on
    15,000 texts). False positives of an absent label still count whenever it is present.
    """
    p = torch.sigmoid(logits)
    tp, positives = weighted_sum(p * target, weight), weighted_sum(target, weight)
    dice = (2 * tp + smooth) / (weighted_sum(p, weight) + positives + smooth)
    present = target.sum(0) > 0
    return 1 - (dice[present].mean() if bool(present.any()) else dice.mean())


class MultiLabelFocalLoss(Loss):
    """Sigmoid focal loss (Lin et al.) on every (text, label) entry, averaged over all entries:
    :func:`dan_dice.losses.focal_loss`. ``gamma ≥ 0`` (default 2; 0 is BCE); ``alpha`` in (0, 1)
    the weight of positive entries (``1 − alpha`` for negatives), None for none (default)."""

    name = "focal"

    def __init__(self, gamma: float = 2.0, alpha: float | None = None) -> None:
        super().__init__()
        self.gamma = check_param("gamma", gamma, 0)
        self.alpha = None if alpha is None else check_param("alpha", alpha, 0, 1, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return focal_loss(logits, target, self.gamma, self.alpha, weight)


class ClassBalancedLoss(Loss):
    """Class-balanced loss of Cui et al. (CVPR 2019) on a sigmoid focal (or BCE) loss per entry.

    Label ``k`` with ``n_k`` training positives weighs ``c_k = (1 − β) / (1 − β^{n_k})``, the
    inverse of its effective number of samples; the weights are normalised to mean 1 over labels
    (``w_k = L · c_k / Σ_j c_j``, as Cui et al. make them sum to the number of classes), so the
    loss keeps the scale of the unweighted one. ``w_k`` multiplies both the positive and the
    negative entries of label ``k`` (Huang et al.'s per-label mode):
    ``loss = mean_{i,k} w_k · (1 − p_t)^γ · (−log p_t)``.

    Defaults ``beta=0.999``, ``gamma=2``. Huang et al. (EMNLP 2021) used ``β = 0.9`` for text
    (their code, github.com/Roche/BalancedLossNLP, configuration "CBloss"; it leaves the weights
    unnormalised and scales the loss by 10 or 5 instead), but with ``β = 0.9`` the weights only
    differ between labels with fewer than some 30 positives (``β^{n_k}`` is below 0.05 beyond
    that): on GoEmotions, whose rarest label has 77, every weight is 1 and the loss is the focal
    loss. ``β = 0.999`` weighs its labels 0.38 to 5.2 and scored as well on its dev set (macro-F1
    0.477 against 0.476, seed 0); ``β = 0`` weighs all alike. ``focal=False`` (or ``gamma=0``)
    uses BCE entries.
    """

    name = "class_balanced"

    def __init__(
        self, label_counts: Any, beta: float = 0.999, gamma: float = 2.0, focal: bool = True
    ) -> None:
        super().__init__()
        counts = _check_counts(label_counts)
        self.beta = check_param("beta", beta, 0, 1)
        if self.beta == 1:
            raise ValueError("beta must be below 1 (β = 1 makes every effective number 0/0)")
        self.gamma = check_param("gamma", gamma, 0)
        self.focal = _check_flag("focal", focal)
        inverse_effective = (1 - self.beta) / (1 - self.beta**counts)
        weight = counts.size * inverse_effective / inverse_effective.sum()
        self.register_buffer("label_weight", torch.as_tensor(weight, dtype=torch.float32))

    @classmethod
    def from_labels(cls, y: np.ndarray, n_classes: int, **params: Any) -> Self:
        """The loss weighted by the label counts of the ``(n, L)`` training indicator ``y``."""
        return cls(_label_counts(y, n_classes), **params)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        entries = _focal_entries((2 * target - 1) * logits, self.gamma if self.focal else 0.0)
        return weighted_mean(self.label_weight.to(logits) * entries, weight)


class DistributionBalancedLoss(Loss):
    """Distribution-balanced loss of Wu et al. (ECCV 2020) as Huang et al. (EMNLP 2021) applied it
    to multi-label text, with each of its three parts switchable.

    With ``n_k`` the training positives of label ``k`` and ``N`` the training texts:

    * ``rebalance``, re-balanced weighting: a text is drawn by class-aware re-sampling about
      ``P^I_i ∝ Σ_{j labels of i} 1/n_j`` times while label ``k`` is drawn ``P^C_k ∝ 1/n_k`` times;
      their ratio ``r_ik = (1/n_k) / Σ_j y_ij/n_j`` (1 for a one-label text's own label, below 1
      for a frequent label that co-occurs with rare ones) is smoothed into the weight
      ``w_ik = α + σ(β·(r_ik − μ))`` of both the positive and the negative entry. A text with no
      positive label gets ``r_ik = 1`` on every label, the ratio of a one-label text's own label:
      neither up- nor down-weighted, rather than the limit ``r → ∞`` (weight ``α + 1``) of 1/0.
    * ``ntr``, negative-tolerant regularisation: logits shifted by ``ν_k = κ · log(n_k/(N − n_k))``
      (κ times the label prior's log-odds) and negatives scaled by ``λ``; with ``z' = z + ν``
      the entry is ``y·softplus(−z') + (1/λ)·(1 − y)·softplus(λz')``. For ``λ > 1`` a negative's
      loss vanishes faster once ``z' < 0`` (easy negatives stop dominating the many-negatives
      labels) while a confident false positive still costs about ``z'``.
    * ``focal``: the entry times ``(1 − p_t)^γ``, ``p_t`` the probability of the true value under
      the regularised logits (``σ(z')`` for a positive, ``σ(−λz')`` for a negative).

    ``loss = mean_{i,k} w_ik · m_ik · (1 − p_t)^γ · softplus(−z_t)`` with ``z_t = z'`` and
    ``m = 1`` for positives, ``z_t = −λz'`` and ``m = 1/λ`` for negatives. With all three parts off
    (or ``rebalance=False, focal=False, init_bias=0, neg_scale=1``) it is BCE.

    Defaults: ``map_alpha=0.1, map_beta=10, init_bias=0.05, neg_scale=2, gamma=2`` as in Huang et
    al.'s "DBloss" runs (their code, github.com/Roche/BalancedLossNLP, Reuters/train.py and
    PubMed/train.py), and ``map_mu=0.9``, their value for Reuters-21578 (1.24 labels per text, as
    GoEmotions' 1.18); for PubMed (12.3 labels per text, so ``r`` of positives near 1/12) they used
    0.05, which with few labels per text leaves nearly every weight at ``α + 1``. Their constant
    focal weight 0.5 is left out (it only scales the loss).
    """

    name = "distribution_balanced"

    def __init__(
        self,
        label_counts: Any,
        n_samples: int,
        map_alpha: float = 0.1,
        map_beta: float = 10.0,
        map_mu: float = 0.9,
        init_bias: float = 0.05,
        neg_scale: float = 2.0,
        gamma: float = 2.0,
        rebalance: bool = True,
        ntr: bool = True,
        focal: bool = True,
    ) -> None:
        super().__init__()
        counts = _check_counts(label_counts)
        n = check_param("n_samples", n_samples, 1)
        if (counts > n).any():
            raise ValueError(f"label_counts exceed n_samples={n_samples}: {label_counts!r}")
        self.map_alpha = check_param("map_alpha", map_alpha, 0)
        self.map_beta = check_param("map_beta", map_beta, 0)
        self.map_mu = check_param("map_mu", map_mu, -math.inf)
        self.init_bias = check_param("init_bias", init_bias, 0)
        self.neg_scale = check_param("neg_scale", neg_scale, 0, strict=True)
        self.gamma = check_param("gamma", gamma, 0)
        self.rebalance = _check_flag("rebalance", rebalance)
        self.ntr = _check_flag("ntr", ntr)
        self.focal = _check_flag("focal", focal)
        shift = np.zeros_like(counts)
        if self.ntr and self.init_bias:
            always = np.flatnonzero(counts == n).tolist()
            if always:
                raise ValueError(
                    f"label(s) {always} are positive in every training text: their prior "
                    f"log-odds is infinite; use init_bias=0 or ntr=False"
                )
            shift = self.init_bias * np.log(counts / (n - counts))
        self.register_buffer("inverse_count", torch.as_tensor(1 / counts, dtype=torch.float32))
        self.register_buffer("logit_shift", torch.as_tensor(shift, dtype=torch.float32))

    @classmethod
    def from_labels(cls, y: np.ndarray, n_classes: int, **params: Any) -> Self:
        """The loss for the label counts and size of the ``(n, L)`` training indicator ``y``."""
        return cls(_label_counts(y, n_classes), len(y), **params)

    def rebalancing_weight(self, target: Tensor) -> Tensor:
        """The ``(N, L)`` weights ``α + σ(β·(r − μ))`` of a target batch (see the class)."""
        inverse = self.inverse_count.to(target)
        per_text = target @ inverse  # Σ_j y_ij / n_j, 0 for a text without labels
        has_label = (per_text > 0).unsqueeze(1)
        ratio = inverse / torch.where(has_label, per_text.unsqueeze(1), 1.0)
        ratio = torch.where(has_label, ratio, 1.0)
        return self.map_alpha + torch.sigmoid(self.map_beta * (ratio - self.map_mu))

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        scale = self.neg_scale if self.ntr else 1.0
        z = logits + self.logit_shift.to(logits) if self.ntr else logits
        zt = z * (target - scale * (1 - target))  # z' for positives, −λz' for negatives
        entries = _focal_entries(zt, self.gamma if self.focal else 0.0)
        entries = entries * (target + (1 - target) / scale)
        if self.rebalance:
            entries = entries * self.rebalancing_weight(target.to(logits))
        return weighted_mean(entries, weight)


class MultiLabelDiceLoss(Loss):
    """Soft Dice per label over the batch, averaged over the labels present in it,
    :func:`multilabel_dice_loss`. ``smooth > 0`` (default 0.01: with a batch's few positives of
    a rare label, a smoothing of 1 outweighs them and pushes every probability to 0). In [0, 1]."""

    name = "dice"

    def __init__(self, smooth: float = 0.01) -> None:
        super().__init__()
        self.smooth = check_param("smooth", smooth, 0, strict=True)

    def forward(self, logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        return multilabel_dice_loss(logits, target, self.smooth, weight)


MULTILABEL_LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        BCELoss,
        MultiLabelFocalLoss,
        ClassBalancedLoss,
        DistributionBalancedLoss,
        MultiLabelDiceLoss,
    )
}
"""The multi-label losses by name; "bce" is plain BCE over every (text, label) entry."""
MULTILABEL_ALIASES = {"ce": "bce"}
"""Other names accepted by :func:`get_multilabel_loss` ("ce" is the estimator's default loss)."""


def multilabel_loss_param_names(loss: str) -> tuple[str, ...]:
    """Names of the hyper-parameters of the named multi-label loss (its keywords with defaults)."""
    signature = inspect.signature(MULTILABEL_LOSSES[MULTILABEL_ALIASES.get(loss, loss)])
    return tuple(n for n, p in signature.parameters.items() if p.default is not p.empty)


def _check_indicator(Y: Any) -> np.ndarray:
    """``Y`` as a float array; ValueError unless it is a 2-D 0/1 indicator with a label."""
    try:
        array = np.asarray(Y, dtype=float)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 2 or array.shape[1] < 1:
        shape = "no numeric array" if array is None else f"shape {array.shape}"
        raise ValueError(f"Y must be a 2-D (n, L) 0/1 indicator with L >= 1, got {shape}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError("Y must hold only 0 and 1 (a multi-label indicator)")
    return array


def get_multilabel_loss(
    loss: str | LossFn, Y: np.ndarray, params: dict[str, Any] | None = None
) -> LossFn:
    """The multi-label loss to train on the ``(n, L)`` 0/1 training indicator ``Y``.

    ``loss`` is a name from :data:`MULTILABEL_LOSSES` (or an alias from
    :data:`MULTILABEL_ALIASES`) built with ``params``, or a callable
    ``(logits, target) -> scalar`` returned as is (it takes no ``params``). The label counts of
    ``Y`` weight "class_balanced" and "distribution_balanced", which need a positive of every label.
    """
    params = dict(params or {})
    if callable(loss):
        if params:
            raise ValueError("loss_params only apply to a named loss, not to a callable loss")
        return loss
    if not isinstance(loss, str) or MULTILABEL_ALIASES.get(loss, loss) not in MULTILABEL_LOSSES:
        aliases = ", ".join(f"{a} (= {n})" for a, n in MULTILABEL_ALIASES.items())
        raise ValueError(
            f"unknown multi-label loss {loss!r}; valid multi-label losses: "
            f"{', '.join(MULTILABEL_LOSSES)}, {aliases}"
        )
    Y = _check_indicator(Y)
    accepted = multilabel_loss_param_names(loss)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for loss {loss!r}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )
    cls = MULTILABEL_LOSSES[MULTILABEL_ALIASES.get(loss, loss)]
    return cls.from_labels(Y, Y.shape[1], **params)
