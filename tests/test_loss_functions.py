"""Tests for dan_dice.loss_functions: the identities each docstring states (Tversky at a = b =
0.5 is Dice, focal at γ = 0 is BCE, DSC at α = 0 is the per-example Dice), what weights mean
(a text of weight 2 is two copies; weights of 1 change nothing), and finite values and gradients
at logits of ±1e4. The named loss modules around them are tested in tests/test_losses.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dan_dice import loss_functions as lf

Z = torch.tensor([2.0, -1.0, 0.5, -3.0, 0.0], dtype=torch.float64)
Y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
W = torch.tensor([2.0, 1.0, 0.0, 1.0, 3.0], dtype=torch.float64)
BINARY = {
    "dice": lf.dice_loss,
    "tversky": lf.tversky_loss,
    "focal": lf.focal_loss,
    "published_dsc": lf.published_dsc_loss,
    "dsc": lf.dsc_loss,
    "weighted_bce": lambda z, y, weight=None: lf.weighted_bce_loss(
        z, y, torch.tensor([1.0, 3.0]), weight=weight
    ),
}
MULTICLASS = {
    "multiclass_dice": lf.multiclass_dice_loss,
    "weighted_cross_entropy": lambda z, y, weight=None: lf.weighted_cross_entropy_loss(
        z, y, torch.tensor([1.0, 2.0, 0.5]), weight=weight
    ),
}


def copies(weight: torch.Tensor, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """Each row repeated as many times as its integer weight."""
    counts = weight.long()
    return [t.repeat_interleave(counts, dim=0) for t in tensors]


def test_weighted_mean_and_sum():
    terms = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert lf.weighted_mean(terms, None) == terms.mean()
    assert lf.weighted_mean(terms, torch.ones(2)) == terms.mean()
    assert lf.weighted_mean(terms, torch.tensor([2.0, 0.0])) == pytest.approx(1.5)
    torch.testing.assert_close(
        lf.weighted_sum(terms, torch.tensor([1.0, 2.0])), torch.tensor([7.0, 10.0])
    )


def test_balanced_class_weights_even_out_the_classes():
    weights = lf.balanced_class_weight(np.array([0, 1, 1, 1]), 2)
    np.testing.assert_allclose(weights, [2.0, 2 / 3])
    assert np.bincount([0, 1, 1, 1], weights[[0, 1, 1, 1]]).tolist() == pytest.approx([2.0, 2.0])
    with pytest.raises(ValueError, match=r"none of class \[2\] \(2 of 3 classes present\)"):
        lf.balanced_class_weight(np.array([0, 1]), 3)
    with pytest.raises(ValueError, match=r"class codes in 0\.\.1"):
        lf.balanced_class_weight(np.array([0, 2]), 2)


def test_the_stated_identities():
    p = torch.sigmoid(Z)
    torch.testing.assert_close(lf.tversky_loss(Z, Y, smooth=0.5), lf.dice_loss(Z, Y, smooth=1.0))
    bce = F.binary_cross_entropy_with_logits(Z, Y)
    torch.testing.assert_close(lf.focal_loss(Z, Y, gamma=0.0), bce)
    torch.testing.assert_close(lf.weighted_bce_loss(Z, Y, torch.ones(2)), bce)
    pt = torch.where(Y == 1, p, 1 - p)
    per_example_dice = 1 - (2 * pt + 1) / (pt + 2)
    torch.testing.assert_close(lf.dsc_loss(Z, Y, alpha=0.0), per_example_dice.mean())
    q = (1 - p) * p
    published = 1 - (2 * q * Y + 1) / (q + Y + 1)
    torch.testing.assert_close(lf.published_dsc_loss(Z, Y), published.mean())
    two_class, target = lf.class_logits(Z, Y)
    torch.testing.assert_close(
        lf.weighted_cross_entropy_loss(two_class, target, torch.ones(2)), bce
    )


@pytest.mark.parametrize("name", [*BINARY, *MULTICLASS])
def test_a_text_of_weight_k_counts_as_k_copies(name):
    if name in BINARY:
        loss, z, y = BINARY[name], Z, Y
    else:
        loss, z, y = (
            MULTICLASS[name],
            torch.randn(5, 3, dtype=torch.float64),
            torch.tensor([0, 2, 1, 1, 0]),
        )
    z_copies, y_copies = copies(W, z, y)
    weighted, copied = loss(z, y, weight=W), loss(z_copies, y_copies)
    if name.startswith(("dice", "tversky", "multiclass_dice")):  # batch sums: exactly copies
        torch.testing.assert_close(weighted, copied)
    else:  # plain means: the weighted mean is the copies' mean times their share
        torch.testing.assert_close(weighted, copied * float(W.sum()) / len(W))
    torch.testing.assert_close(loss(z, y, weight=torch.ones(len(z), dtype=z.dtype)), loss(z, y))


@pytest.mark.parametrize("name", BINARY)
def test_binary_losses_are_finite_at_extreme_logits(name):
    z = torch.tensor([1e4, -1e4, 1e4, -1e4], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])
    value = BINARY[name](z, y)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z.grad).all()


def test_multiclass_dice_is_one_minus_the_macro_dice():
    z = torch.tensor([[9.0, -9.0], [-9.0, 9.0]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    assert lf.multiclass_dice_loss(z, y, smooth=0.0) == pytest.approx(0.0, abs=1e-7)
    assert lf.multiclass_dice_loss(-z, y, smooth=0.0) == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize(
    ("value", "strict", "ok"),
    [
        (0.5, False, True),
        (0.0, False, True),
        (0.0, True, False),
        (True, False, False),
        ("0.5", False, False),
        (math.nan, False, False),
        (2.0, False, False),
    ],
)
def test_check_param(value, strict, ok):
    if ok:
        assert lf.check_param("alpha", value, 0.0, 1.0, strict=strict) == float(value)
    else:
        with pytest.raises(ValueError, match=r"alpha must be a finite number in [\[(]0.0, 1.0"):
            lf.check_param("alpha", value, 0.0, 1.0, strict=strict)
