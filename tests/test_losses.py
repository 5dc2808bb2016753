import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice.losses import (
    BINARY_LOSSES,
    LOSSES,
    MULTICLASS_LOSSES,
    BCELoss,
    CrossEntropyLoss,
    DiceBCELoss,
    DiceLoss,
    DSCLoss,
    FocalLoss,
    Loss,
    MSELoss,
    MultiClassDiceLoss,
    PublishedDSCLoss,
    TverskyLoss,
    WeightedBCELoss,
    WeightedCrossEntropyLoss,
    get_loss,
    loss_param_names,
)

LN2, LN3 = math.log(2), math.log(3)
# p = σ(z) = 0.75, 0.25, 0.5 for targets 1, 0, 1.
Z = torch.tensor([LN3, -LN3, 0.0], dtype=torch.float64)
Y = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
Y_1TO3 = np.array([0, 1, 1, 1])  # balanced weights: 4/(2·1) = 2 and 4/(2·3) = 2/3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tensors here are tiny: extra threads only add contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def f64(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def value(loss: Loss, logits: torch.Tensor, target: torch.Tensor) -> float:
    return float(loss(logits, target))


# Exact values on hand-computed examples.


def test_dice_value():
    # Σyp = 1.25, Σy = 2, Σp = 1.5: 1 − 3.5 / 4.5
    assert value(DiceLoss(), Z, Y) == pytest.approx(2 / 9)


def test_dice_all_negative_batch_is_defined():
    # Σp / (Σp + s) with Σp = 1
    assert value(DiceLoss(), f64(0.0, 0.0), f64(0.0, 0.0)) == pytest.approx(0.5)


def test_tversky_value():
    # TP = 1.25, FP = 0.25, FN = 0.75: 1 − 2.25 / (1.25 + 0.3·0.25 + 0.7·0.75 + 1)
    assert value(TverskyLoss(a=0.3, b=0.7), Z, Y) == pytest.approx(4 / 19)


@pytest.mark.parametrize("smooth", [0.1, 1.0, 3.0])
def test_tversky_half_half_is_dice_with_double_smoothing(smooth):
    logits, target = torch.randn(7, dtype=torch.float64), f64(1, 0, 0, 1, 0, 0, 0)
    tversky = value(TverskyLoss(0.5, 0.5, smooth), logits, target)
    assert tversky == pytest.approx(value(DiceLoss(2 * smooth), logits, target))


def test_mse_value():
    assert value(MSELoss(), Z, Y) == pytest.approx((0.25**2 + 0.25**2 + 0.5**2) / 3)


def test_bce_value():
    assert value(BCELoss(), Z, Y) == pytest.approx((2 * math.log(4 / 3) + LN2) / 3)


def test_wbce_weights_and_value():
    loss = get_loss("wbce", Y_1TO3, 2)
    assert loss.class_weight.tolist() == pytest.approx([2.0, 2 / 3])
    expected = (2 / 3 * math.log(4 / 3) + 2 * math.log(4 / 3) + 2 / 3 * LN2) / 3
    assert value(loss, Z, Y) == pytest.approx(expected)


def test_wbce_over_training_set_is_mean_of_class_means():
    logits = f64(0.3, -1.0, 2.0, 0.5)
    target = torch.from_numpy(Y_1TO3).double()
    per_example = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target, reduction="none"
    )
    class_means = (per_example[0] + per_example[1:].mean()) / 2
    assert value(get_loss("wbce", Y_1TO3, 2), logits, target) == pytest.approx(float(class_means))


def test_published_dsc_value():
    # p = 0.5, q = 0.25: positive 1 − 1.5 / 2.25, negative 0.25 / 1.25
    loss = PublishedDSCLoss(alpha=1.0, gamma=1.0)
    assert value(loss, f64(0.0, 0.0), f64(1.0, 0.0)) == pytest.approx((1 / 3 + 1 / 5) / 2)


def test_dsc_value():
    # (1 − p_t)² / (2 + p_t) with p_t = 0.75, 0.75, 0.5
    assert value(DSCLoss(alpha=1.0, gamma=1.0), Z, Y) == pytest.approx((2 / 44 + 1 / 10) / 3)


def test_dsc_alpha_zero_is_per_example_dice():
    p_t = torch.tensor([0.75, 0.75, 0.5], dtype=torch.float64)
    per_example_dice = 1 - (2 * p_t + 1) / (p_t + 2)
    assert value(DSCLoss(alpha=0.0), Z, Y) == pytest.approx(float(per_example_dice.mean()))


def test_focal_value():
    # positive at p = 0.5, negative at p = 0.75 (p_t = 0.25)
    expected = (0.25 * 0.5**2 * LN2 + 0.75 * 0.75**2 * math.log(4)) / 2
    loss = FocalLoss(gamma=2.0, alpha=0.25)
    assert value(loss, f64(0.0, LN3), f64(1.0, 0.0)) == pytest.approx(expected)


def test_focal_gamma_zero_is_bce():
    assert value(FocalLoss(gamma=0.0), Z, Y) == pytest.approx(value(BCELoss(), Z, Y))


def test_focal_balanced_alpha_is_share_of_negatives():
    assert get_loss("focal", Y_1TO3, 2, {"alpha": "balanced"}).alpha == pytest.approx(0.25)


def test_dice_bce_mixes_its_terms():
    dice, bce = value(DiceLoss(), Z, Y), value(BCELoss(), Z, Y)
    assert value(DiceBCELoss(dice_weight=0.0), Z, Y) == pytest.approx(bce)
    assert value(DiceBCELoss(dice_weight=1.0), Z, Y) == pytest.approx(dice)
    assert value(DiceBCELoss(), Z, Y) == pytest.approx((dice + bce) / 2)


def test_multiclass_dice_value():
    # p = 1/3 everywhere; classes 0 and 1: (2/3 + 1) / (1 + 2/3 + 1), class 2: 1 / (2/3 + 1)
    logits, target = torch.zeros(2, 3, dtype=torch.float64), torch.tensor([0, 1])
    assert value(MultiClassDiceLoss(), logits, target) == pytest.approx(
        1 - (5 / 8 + 5 / 8 + 3 / 5) / 3
    )


def test_ce_value():
    logits, target = torch.zeros(2, 3, dtype=torch.float64), torch.tensor([0, 1])
    assert value(CrossEntropyLoss(), logits, target) == pytest.approx(LN3)


def test_wce_weights_and_value():
    loss = get_loss("wce", np.array([0, 0, 1, 2]), 3)
    assert loss.class_weight.tolist() == pytest.approx([2 / 3, 4 / 3, 4 / 3])
    logits, target = torch.zeros(2, 3, dtype=torch.float64), torch.tensor([0, 1])
    assert value(loss, logits, target) == pytest.approx((2 / 3 + 4 / 3) / 2 * LN3)


def test_multiclass_dice_on_binary_task():
    # class 1: p = (.75, .25, .5), y = (1, 0, 1): 3.5 / 4.5; class 0: 2.5 / 3.5
    assert value(MultiClassDiceLoss(), Z, Y) == pytest.approx(1 - (7 / 9 + 5 / 7) / 2)


def test_ce_on_binary_task_is_bce():
    assert value(CrossEntropyLoss(), Z, Y) == pytest.approx(value(BCELoss(), Z, Y))


def test_wce_on_binary_task_is_wbce():
    wce, wbce = get_loss("wce", Y_1TO3, 2), get_loss("wbce", Y_1TO3, 2)
    assert value(wce, Z, Y) == pytest.approx(value(wbce, Z, Y))


# class_weight: the cross-entropy losses in their class-weighted forms.


@pytest.mark.parametrize(("loss", "weighted"), [("ce", "wce"), ("bce", "wbce")])
def test_balanced_class_weight_is_the_weighted_loss(loss, weighted):
    a = get_loss(loss, Y_1TO3, 2, class_weight="balanced")
    b = get_loss(weighted, Y_1TO3, 2)
    assert type(a) is type(b)
    assert a.class_weight.tolist() == pytest.approx(b.class_weight.tolist())


def test_explicit_class_weights():
    loss = get_loss("ce", np.array([0, 1, 2]), 3, class_weight=[1.0, 2.0, 0.5])
    assert loss.class_weight.tolist() == [1.0, 2.0, 0.5]
    logits, target = torch.zeros(2, 3, dtype=torch.float64), torch.tensor([1, 2])
    assert value(loss, logits, target) == pytest.approx((2.0 + 0.5) / 2 * LN3)


@pytest.mark.parametrize(
    ("loss", "class_weight", "message"),
    [
        ("dice", "balanced", "applies to the losses bce, ce, not to 'dice'"),
        ("wce", "balanced", "already class-weighted"),
        ("ce", "inverse", "must be 'balanced' or weights"),
        ("ce", [1.0], "must be 2 finite weights >= 0"),
        ("ce", [1.0, math.nan], "must be 2 finite weights >= 0"),
        ("bce", [1.0, -2.0], "must be 2 finite weights >= 0"),
    ],
)
def test_bad_class_weight(loss, class_weight, message):
    with pytest.raises(ValueError, match=message):
        get_loss(loss, Y_1TO3, 2, class_weight=class_weight)


def test_class_weight_of_a_callable_loss_is_refused():
    with pytest.raises(ValueError, match="only apply to a named loss"):
        get_loss(lambda z, y: z.sum(), Y_1TO3, 2, class_weight="balanced")


# The collapse of the published self-adjusting Dice, and the fix.


def test_published_dsc_collapses_but_dsc_does_not():
    confident_false_positive = torch.logit(f64(1 - 1e-6))
    negative = f64(0.0)
    assert value(PublishedDSCLoss(), confident_false_positive, negative) < 1e-5
    # dsc's maximum is 1 / (1 + γ) = 0.5, at p_t = 0
    assert value(DSCLoss(), confident_false_positive, negative) == pytest.approx(0.5, abs=1e-5)


def test_published_dsc_does_not_reward_confident_positives():
    positive = f64(1.0)
    right, wrong, unsure = (value(PublishedDSCLoss(), f64(z), positive) for z in (20, -20, 0))
    assert right == pytest.approx(wrong) == pytest.approx(0.5)
    assert unsure < right


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_dsc_decreases_to_zero_in_true_class_probability(alpha, y):
    p_t = torch.linspace(1e-6, 1 - 1e-6, 101, dtype=torch.float64)
    logits = torch.logit(p_t if y else 1 - p_t)
    losses = torch.stack([DSCLoss(alpha)(z.reshape(1), f64(y)) for z in logits])
    assert bool((losses.diff() < 0).all())
    assert float(losses[-1]) < 1e-6


# Properties of every loss.

CASES = [(name, 2) for name in LOSSES] + [(name, 4) for name in MULTICLASS_LOSSES]
BOUNDED = {"dice", "tversky", "dsc", "dsc_published", "multiclass_dice", "mse"}


def build(name: str, n_classes: int) -> Loss:
    return get_loss(name, np.arange(3 * n_classes) % n_classes, n_classes)


def as_target(labels: list[int], n_classes: int) -> torch.Tensor:
    target = torch.tensor(labels)
    return target.float() if n_classes == 2 else target


def perfect_logits(target: torch.Tensor, n_classes: int) -> torch.Tensor:
    if n_classes == 2:
        return 40 * target - 20
    return 40 * torch.nn.functional.one_hot(target, n_classes).float() - 20


@st.composite
def batches(draw, n_classes: int, low: float = -30.0, high: float = 30.0):
    n = draw(st.integers(1, 12))
    labels = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    shape = (n,) if n_classes == 2 else (n, n_classes)
    values = st.floats(low, high, width=32) | st.sampled_from([low, high])
    size = math.prod(shape)
    logits = torch.tensor(draw(st.lists(values, min_size=size, max_size=size)))
    return logits.reshape(shape), labels


@pytest.mark.parametrize(("name", "n_classes"), CASES)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_finite_scalar_in_range(name, n_classes, data):
    logits, labels = data.draw(batches(n_classes))
    loss = build(name, n_classes)(logits, as_target(labels, n_classes))
    assert loss.dim() == 0
    assert math.isfinite(float(loss))
    assert float(loss) >= -1e-6
    if name in BOUNDED:
        assert float(loss) <= 1 + 1e-6


# dsc_published is left out: its minimum is not at the targets (see the collapse tests).
@pytest.mark.parametrize(("name", "n_classes"), [c for c in CASES if c[0] != "dsc_published"])
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_perfect_predictions_reach_the_minimum(name, n_classes, data):
    logits, labels = data.draw(batches(n_classes))
    target = as_target(labels, n_classes)
    loss = build(name, n_classes)
    perfect = float(loss(perfect_logits(target, n_classes), target))
    assert perfect <= 1e-4
    assert perfect <= float(loss(logits, target)) + 1e-6


@pytest.mark.parametrize(("name", "n_classes"), CASES)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_finite_gradients_at_extreme_logits(name, n_classes, data):
    logits, labels = data.draw(batches(n_classes, -1e4, 1e4))
    labels = data.draw(st.sampled_from([labels, [0] * len(labels), [1] * len(labels)]))
    logits.requires_grad_(True)
    build(name, n_classes)(logits, as_target(labels, n_classes)).backward()
    assert bool(torch.isfinite(logits.grad).all())


@pytest.mark.parametrize(("name", "n_classes"), CASES)
@pytest.mark.parametrize("label", [0, 1])
@pytest.mark.parametrize("logit", [-1e4, 0.0, 1e4])
def test_batch_of_one(name, n_classes, label, logit):
    logits = torch.full((1,) if n_classes == 2 else (1, n_classes), logit, requires_grad=True)
    loss = build(name, n_classes)(logits, as_target([label], n_classes))
    loss.backward()
    assert loss.shape == () and math.isfinite(loss.item())
    assert bool(torch.isfinite(logits.grad).all())


# get_loss


def test_registry():
    assert set(BINARY_LOSSES) | set(MULTICLASS_LOSSES) == set(LOSSES)
    assert MULTICLASS_LOSSES == ("multiclass_dice", "ce", "wce")
    assert all(LOSSES[name].name == name for name in LOSSES)


def test_unknown_loss():
    with pytest.raises(ValueError, match=r"unknown loss 'nope'; valid losses: dice, wbce, mse"):
        get_loss("nope", Y_1TO3, 2)


def test_binary_loss_on_multiclass_task():
    with pytest.raises(ValueError, match=r"'dice' is binary-only.*multiclass_dice, ce, wce"):
        get_loss("dice", np.array([0, 1, 2]), 3)


def test_unknown_parameter():
    with pytest.raises(ValueError, match=r"smoothing for loss 'dice'; accepted: smooth"):
        get_loss("dice", Y_1TO3, 2, {"smoothing": 1.0})
    with pytest.raises(ValueError, match=r"accepted: none"):
        get_loss("wbce", Y_1TO3, 2, {"smooth": 1.0})


@pytest.mark.parametrize(
    ("name", "param", "bad"),
    [
        ("dice", "smooth", 0.0),
        ("dice", "smooth", -1.0),
        ("tversky", "a", -0.1),
        ("tversky", "smooth", math.inf),
        ("dsc", "alpha", -0.5),
        ("dsc_published", "gamma", 0.0),
        ("focal", "gamma", math.nan),
        ("focal", "alpha", 1.0),
        ("focal", "alpha", "uniform"),
        ("dice_bce", "dice_weight", 1.5),
        ("multiclass_dice", "smooth", "1"),
    ],
)
def test_invalid_parameter_value(name, param, bad):
    with pytest.raises(ValueError, match=rf"{param} must be a finite number in"):
        get_loss(name, Y_1TO3, 2, {param: bad})


@pytest.mark.parametrize(
    ("name", "params"), [("wbce", None), ("wce", None), ("focal", {"alpha": "balanced"})]
)
def test_weighted_loss_needs_both_classes(name, params):
    with pytest.raises(ValueError, match=r"none of class \[0\] \(1 of 2 classes present\)"):
        get_loss(name, np.array([1, 1, 1]), 2, params)


def test_wce_needs_every_class():
    with pytest.raises(ValueError, match=r"none of class \[2\]"):
        get_loss("wce", np.array([0, 1, 1, 3]), 4)
    with pytest.raises(ValueError, match=r"class codes in 0..2"):
        get_loss("wce", np.array([0, 1, 3]), 3)


def test_n_classes_at_least_two():
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        get_loss("dice", np.array([0, 0]), 1)


def test_callable_passthrough():
    def loss_fn(logits, target):
        return logits.sum()

    assert get_loss(loss_fn, Y_1TO3, 2) is loss_fn
    with pytest.raises(ValueError, match="only apply to a named loss"):
        get_loss(loss_fn, Y_1TO3, 2, {"smooth": 1.0})


def test_params_passthrough():
    loss = get_loss("tversky", Y_1TO3, 2, {"a": 0.3, "b": 0.7, "smooth": 2.0})
    assert isinstance(loss, TverskyLoss)
    assert (loss.a, loss.b, loss.smooth) == (0.3, 0.7, 2.0)
    assert get_loss("dsc", Y_1TO3, 2, {"alpha": 0.5}).alpha == 0.5


def test_defaults():
    assert loss_param_names("dice") == ("smooth",)
    assert loss_param_names("focal") == ("gamma", "alpha")
    assert loss_param_names("wbce") == loss_param_names("ce") == ()
    assert isinstance(get_loss("wbce", Y_1TO3, 2), WeightedBCELoss)
    assert isinstance(get_loss("wce", Y_1TO3, 2), WeightedCrossEntropyLoss)
    assert FocalLoss().gamma == 2.0 and FocalLoss().alpha is None


@pytest.mark.realdata
@pytest.mark.slow
def test_published_dsc_collapses_on_sms_and_the_fixed_form_does_not(real_data_home):
    """Trained as the study grid trains (its network, threshold 0.5); the estimator's defaults
    (tuned threshold, collapse-aware epoch choice) would hide the loss's own collapse."""
    from dan_dice import DANClassifier
    from dan_dice.datasets import load_sms_spam
    from dan_dice.experiments import STUDY_PARAMS
    from dan_dice.metrics import is_collapsed, scores
    from dan_dice.splits import train_val_test_split

    X, y = load_sms_spam(real_data_home, return_X_y=True)
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y)
    study = {**STUDY_PARAMS, "threshold": 0.5, "max_epochs": 30}
    for seed in (0, 1):
        predicted = {
            loss: DANClassifier(loss=loss, random_state=seed, **study)
            .fit(X_train, y_train, validation_data=(X_val, y_val))
            .predict(X_test)
            for loss in ("dsc_published", "dsc")
        }
        assert is_collapsed(predicted["dsc_published"])
        assert not is_collapsed(predicted["dsc"])
        assert scores(y_test, predicted["dsc"])["f1"] >= 0.9
