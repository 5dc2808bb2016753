import itertools
import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from dan_dice.losses import BCELoss, Loss
from dan_dice.multilabel_losses import (
    MULTILABEL_LOSSES,
    ClassBalancedLoss,
    DistributionBalancedLoss,
    MultiLabelDiceLoss,
    MultiLabelFocalLoss,
    get_multilabel_loss,
    multilabel_loss_param_names,
)

# 20 texts, 4 labels with 10, 5, 2 and 1 positives; label 3 co-occurs with labels 0 and 1,
# rows 15-19 have no label.
Y_TRAIN = np.zeros((20, 4), dtype=np.int8)
Y_TRAIN[0:10, 0] = 1
Y_TRAIN[8:13, 1] = 1
Y_TRAIN[13:15, 2] = 1
Y_TRAIN[9, 3] = 1
COUNTS = np.array([10.0, 5.0, 2.0, 1.0])
NAMES = list(MULTILABEL_LOSSES)
WEIGHTED = ("class_balanced", "distribution_balanced")


def f64(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def build(name: str, **params) -> Loss:
    return get_multilabel_loss(name, Y_TRAIN, params)


def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def plain_db(**params) -> DistributionBalancedLoss:
    """Distribution-balanced loss with only the parts named in ``params`` switched on."""
    return build(
        "distribution_balanced", **{"rebalance": False, "ntr": False, "focal": False, **params}
    )


@st.composite
def batches(draw, low: float = -30.0, high: float = 30.0, n_labels: int = 4):
    n = draw(st.integers(1, 12))
    target = draw(
        st.lists(st.sampled_from([0.0, 1.0]), min_size=n * n_labels, max_size=n * n_labels)
    )
    values = st.floats(low, high, width=32) | st.sampled_from([low, high])
    logits = draw(st.lists(values, min_size=n * n_labels, max_size=n * n_labels))
    return torch.tensor(logits).reshape(n, n_labels), torch.tensor(target).reshape(n, n_labels)


# Properties of every loss.


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_finite_scalar_in_range(name, data):
    logits, target = data.draw(batches())
    loss = build(name)(logits, target)
    assert loss.dim() == 0 and math.isfinite(float(loss))
    assert float(loss) >= -1e-6
    if name == "dice":
        assert float(loss) <= 1 + 1e-6


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_perfect_predictions_reach_the_minimum(name, data):
    logits, target = data.draw(batches())
    loss = build(name)
    perfect = float(loss(40 * target - 20, target))
    assert perfect <= 1e-4
    assert perfect <= float(loss(logits, target)) + 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_loss_decreases_as_logits_move_toward_the_targets(name):
    target = torch.from_numpy(Y_TRAIN[6:16]).double()
    loss = build(name)
    values = [float(loss(s * (2 * target - 1), target)) for s in np.linspace(-6, 6, 25)]
    assert all(b < a for a, b in itertools.pairwise(values))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_finite_gradients_at_extreme_logits(name, data):
    logits, target = data.draw(batches(-1e4, 1e4))
    target = data.draw(st.sampled_from([target, torch.zeros_like(target), torch.ones_like(target)]))
    logits.requires_grad_(True)
    build(name)(logits, target).backward()
    assert bool(torch.isfinite(logits.grad).all())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("logit", [-1e4, 0.0, 1e4])
@pytest.mark.parametrize(
    "target",
    [
        [[0, 0, 0, 0]],  # one text, no label
        [[0, 0, 0, 0], [0, 0, 0, 0]],  # a batch without any positive
        [[1, 0, 0, 0], [0, 0, 0, 0]],  # an all-negative row; labels 1-3 without positives
        [[1, 1, 1, 1]],
    ],
)
def test_all_negative_rows_and_labels(name, logit, target):
    target = torch.tensor(target, dtype=torch.float32)
    logits = torch.full(target.shape, logit, requires_grad=True)
    loss = build(name)(logits, target)
    loss.backward()
    assert loss.shape == () and math.isfinite(loss.item())
    assert bool(torch.isfinite(logits.grad).all())


# Values of the simple losses.

Z = f64([[0.0, math.log(3)], [-math.log(3), 2.0], [1.0, -1.0]])
T = f64([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y2 = np.array([[1, 0], [0, 1], [1, 1]])


def test_bce_and_its_alias():
    for name in ("bce", "ce"):
        loss = get_multilabel_loss(name, Y2)
        assert type(loss) is BCELoss
        assert float(loss(Z, T)) == pytest.approx(float(bce(Z, T).mean()))


def test_focal_value_and_gamma_zero():
    p_t = torch.sigmoid((2 * T - 1) * Z)
    alpha_t = 0.25 * T + 0.75 * (1 - T)
    expected = (-alpha_t * (1 - p_t) ** 2 * torch.log(p_t)).mean()
    assert float(MultiLabelFocalLoss(alpha=0.25)(Z, T)) == pytest.approx(float(expected))
    assert float(MultiLabelFocalLoss(gamma=0)(Z, T)) == pytest.approx(float(bce(Z, T).mean()))


def test_dice_value():
    # p = 1/2 everywhere; label 0: (1 + s) / (1 + 1 + s); label 1 has no positive: left out
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    loss = MultiLabelDiceLoss(smooth=0.5)(torch.zeros(2, 2), target)
    assert float(loss) == pytest.approx(1 - 1.5 / 2.5)
    nothing = MultiLabelDiceLoss(smooth=0.5)(torch.zeros(2, 2), torch.zeros(2, 2))
    assert float(nothing) == pytest.approx(1 - 0.5 / 1.5)  # no label present: every label


# Class-balanced loss.


def test_class_balanced_weights_favour_rare_labels():
    weight = build("class_balanced").label_weight.double()
    inverse_effective = 0.001 / (1 - 0.999**COUNTS)
    assert weight.tolist() == pytest.approx(
        (4 * inverse_effective / inverse_effective.sum()).tolist()
    )
    assert bool((weight.diff() > 0).all())  # counts 10, 5, 2, 1
    assert float(weight.mean()) == pytest.approx(1.0)


def test_class_balanced_value():
    loss = ClassBalancedLoss([3.0, 1.0], beta=0.5, focal=False)
    # c = 0.5 / (1 - 0.125), 0.5 / 0.5 -> normalised to mean 1
    c = np.array([0.5 / 0.875, 1.0])
    w = torch.from_numpy(2 * c / c.sum())
    assert float(loss(Z, T)) == pytest.approx(float((w * bce(Z, T)).mean()))


def test_class_balanced_with_beta_zero_is_unweighted():
    assert float(
        build("class_balanced", beta=0.0, focal=False)(Z.repeat(1, 2), T.repeat(1, 2))
    ) == (pytest.approx(float(bce(Z, T).mean())))
    focal = float(MultiLabelFocalLoss()(Z.repeat(1, 2), T.repeat(1, 2)))
    assert float(build("class_balanced", beta=0.0)(Z.repeat(1, 2), T.repeat(1, 2))) == (
        pytest.approx(focal)
    )


# Distribution-balanced loss.


def test_distribution_balanced_buffers():
    loss = build("distribution_balanced")
    assert loss.inverse_count.tolist() == pytest.approx((1 / COUNTS).tolist())
    assert loss.logit_shift.tolist() == pytest.approx(
        (0.05 * np.log(COUNTS / (20 - COUNTS))).tolist()
    )


def test_rebalancing_weight_is_larger_for_tail_labels():
    loss = build("distribution_balanced")
    # a text with the head label 0 and the tail label 3: r = (1/10) / 1.1 and 1 / 1.1
    weight = loss.rebalancing_weight(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))[0]
    r = torch.tensor([1 / 11, 2 / 11, 5 / 11, 10 / 11])
    assert weight.tolist() == pytest.approx((0.1 + torch.sigmoid(10 * (r - 0.9))).tolist())
    assert weight[3] > weight[0]
    # the negatives of a head-label text are up-weighted, those of a tail-label text down-weighted
    head, tail = loss.rebalancing_weight(torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]))
    assert head[3] == pytest.approx(1.1) and tail[0] < 0.11


def test_rebalancing_weight_of_a_text_without_labels():
    loss = build("distribution_balanced", map_alpha=0.2, map_beta=4.0, map_mu=0.5)
    weight = loss.rebalancing_weight(torch.zeros(2, 4))
    assert weight.flatten().tolist() == pytest.approx([0.2 + 1 / (1 + math.exp(-2))] * 8)


@pytest.mark.parametrize(
    "params", [{}, {"ntr": True, "init_bias": 0.0, "neg_scale": 1.0}, {"map_alpha": 3.0}]
)
def test_distribution_balanced_without_its_parts_is_bce(params):
    z, t = torch.randn(6, 4, dtype=torch.float64), torch.from_numpy(Y_TRAIN[7:13]).double()
    assert float(plain_db(**params)(z, t)) == pytest.approx(float(bce(z, t).mean()))


def test_negative_tolerant_regularisation_value():
    loss = plain_db(ntr=True, init_bias=0.5, neg_scale=3.0)
    z, t = torch.randn(6, 4, dtype=torch.float64), torch.from_numpy(Y_TRAIN[7:13]).double()
    shifted = z + torch.from_numpy(0.5 * np.log(COUNTS / (20 - COUNTS)))
    expected = t * F.softplus(-shifted) + (1 - t) * F.softplus(3 * shifted) / 3
    assert float(loss(z, t)) == pytest.approx(float(expected.mean()))


def test_negative_scale_tolerates_easy_negatives_only():
    negative = torch.zeros(1, 4)
    scaled = plain_db(ntr=True, init_bias=0.0, neg_scale=2.0)
    unscaled = plain_db()
    easy, false_positive = torch.full((1, 4), -2.0), torch.full((1, 4), 20.0)
    assert float(scaled(easy, negative)) < 0.5 * float(unscaled(easy, negative))
    assert float(scaled(false_positive, negative)) == pytest.approx(20.0, rel=1e-6)
    assert float(unscaled(false_positive, negative)) == pytest.approx(20.0, rel=1e-6)


def test_init_bias_shifts_rare_labels_down():
    # a label's prior log-odds is negative when it is rarer than 1/2: the same logit then looks
    # less positive to the loss, so training raises the rare labels' raw logits
    loss = plain_db(ntr=True, neg_scale=1.0)
    z, positive = torch.zeros(1, 4), torch.ones(1, 4)
    assert float(loss(z, positive)) > float(plain_db()(z, positive))


def test_distribution_balanced_full_value():
    loss = build("distribution_balanced")
    z, t = torch.randn(6, 4, dtype=torch.float64), torch.from_numpy(Y_TRAIN[7:13]).double()
    shifted = z + torch.from_numpy(0.05 * np.log(COUNTS / (20 - COUNTS)))
    p = torch.sigmoid(shifted)
    q = torch.sigmoid(2 * shifted)  # the negatives' probability of being positive, scaled
    entries = t * (1 - p) ** 2 * -torch.log(p) + (1 - t) * q**2 * -torch.log(1 - q) / 2
    expected = loss.rebalancing_weight(t) * entries
    assert float(loss(z, t)) == pytest.approx(float(expected.mean()))


def test_init_bias_needs_a_negative_of_every_label():
    y = np.array([[1, 0], [1, 1]])
    with pytest.raises(ValueError, match=r"label\(s\) \[0\] are positive in every training text"):
        get_multilabel_loss("distribution_balanced", y)
    for params in ({"init_bias": 0.0}, {"ntr": False}):
        assert math.isfinite(
            float(
                get_multilabel_loss("distribution_balanced", y, params)(
                    torch.zeros(2, 2), torch.ones(2, 2)
                )
            )
        )


# get_multilabel_loss


def test_registry():
    assert NAMES == ["bce", "focal", "class_balanced", "distribution_balanced", "dice"]
    assert all(MULTILABEL_LOSSES[name].name == name for name in NAMES)


@pytest.mark.parametrize("name", WEIGHTED)
def test_weighted_losses_need_a_positive_of_every_label(name):
    y = Y_TRAIN.copy()
    y[:, [1, 3]] = 0
    with pytest.raises(ValueError, match=r"label\(s\) \[1, 3\] have no positive .*2 of 4 labels"):
        get_multilabel_loss(name, y)


@pytest.mark.parametrize("name", ["bce", "focal", "dice"])
def test_unweighted_losses_accept_labels_without_positives(name):
    assert isinstance(get_multilabel_loss(name, np.zeros((3, 2))), Loss)


def test_unknown_loss():
    message = (
        r"unknown multi-label loss 'wbce'; valid .*: bce, focal, class_balanced, .*ce \(= bce\)"
    )
    with pytest.raises(ValueError, match=message):
        get_multilabel_loss("wbce", Y_TRAIN)
    with pytest.raises(ValueError, match="unknown multi-label loss 3"):
        get_multilabel_loss(3, Y_TRAIN)


def test_unknown_parameter():
    with pytest.raises(
        ValueError, match=r"alpha for loss 'class_balanced'; accepted: beta, gamma, focal"
    ):
        get_multilabel_loss("class_balanced", Y_TRAIN, {"alpha": 0.5})
    with pytest.raises(ValueError, match="accepted: none"):
        get_multilabel_loss("ce", Y_TRAIN, {"smooth": 1.0})


@pytest.mark.parametrize(
    ("name", "param", "bad", "message"),
    [
        ("class_balanced", "beta", 1.0, "beta must be below 1"),
        ("class_balanced", "beta", -0.1, "beta must be a finite number"),
        ("class_balanced", "focal", 1, "focal must be True or False"),
        ("distribution_balanced", "neg_scale", 0.0, "neg_scale must be a finite number"),
        ("distribution_balanced", "map_mu", math.nan, "map_mu must be a finite number"),
        ("distribution_balanced", "init_bias", -1.0, "init_bias must be a finite number"),
        ("distribution_balanced", "rebalance", "no", "rebalance must be True or False"),
        ("focal", "alpha", 1.0, "alpha must be a finite number"),
        ("dice", "smooth", 0.0, "smooth must be a finite number"),
    ],
)
def test_invalid_parameter_value(name, param, bad, message):
    with pytest.raises(ValueError, match=message):
        get_multilabel_loss(name, Y_TRAIN, {param: bad})


@pytest.mark.parametrize(
    "Y",
    [np.array([0, 1, 1]), np.zeros((3, 0)), np.array([[0, 2]]), np.array([[0, np.nan]]), [["a"]]],
)
def test_bad_indicator(Y):
    with pytest.raises(ValueError, match="Y must"):
        get_multilabel_loss("bce", Y)


def test_callable_passthrough():
    def loss_fn(logits, target):
        return logits.sum()

    assert get_multilabel_loss(loss_fn, Y_TRAIN) is loss_fn
    with pytest.raises(ValueError, match="only apply to a named loss"):
        get_multilabel_loss(loss_fn, Y_TRAIN, {"gamma": 1.0})


def test_params_and_defaults():
    assert multilabel_loss_param_names("ce") == ()
    assert multilabel_loss_param_names("class_balanced") == ("beta", "gamma", "focal")
    db = build("distribution_balanced")
    defaults = (db.map_alpha, db.map_beta, db.map_mu, db.init_bias, db.neg_scale, db.gamma)
    assert defaults == (0.1, 10.0, 0.9, 0.05, 2.0, 2.0)
    assert db.rebalance and db.ntr and db.focal
    cb = build("class_balanced", beta=0.99, gamma=1.0)
    assert (cb.beta, cb.gamma, cb.focal) == (0.99, 1.0, True)
    assert build("class_balanced").beta == 0.999


# Modules: buffers follow .to(), pickling.


@pytest.mark.parametrize(
    ("name", "buffers"),
    [
        ("class_balanced", ["label_weight"]),
        ("distribution_balanced", ["inverse_count", "logit_shift"]),
    ],
)
def test_to_moves_the_buffers(name, buffers):
    loss = build(name).to("meta")
    assert [getattr(loss, b).device.type for b in buffers] == ["meta"] * len(buffers)
    assert {n for n, _ in loss.named_buffers()} == set(buffers)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_runs_on_cuda(name):
    z, t = torch.randn(5, 4, device="cuda"), torch.from_numpy(Y_TRAIN[8:13]).float().cuda()
    assert math.isfinite(float(build(name).cuda()(z, t)))


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip(name):
    loss = build(name)
    z, t = torch.randn(5, 4), torch.from_numpy(Y_TRAIN[8:13]).float()
    assert float(pickle.loads(pickle.dumps(loss))(z, t)) == pytest.approx(float(loss(z, t)))


# Each loss trains a linear model on synthetic long-tailed multi-label data.


def synthetic(rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian features; four labels that are linear in them, with prevalences ~ 40 to 6 %."""
    w = np.array([[2.0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2], [1, -1, 1, -1]])
    x = rng.normal(size=(n, 5))
    y = x @ w + np.array([-0.5, -1.5, -2.5, -3.2]) + 0.3 * rng.normal(size=(n, 4)) > 0
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


@pytest.mark.parametrize("name", NAMES)
def test_trains_a_linear_model(name):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    (x, y), (x_test, y_test) = synthetic(rng, 400), synthetic(rng, 400)
    loss = get_multilabel_loss(name, y.numpy())
    model = torch.nn.Linear(5, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        loss(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        predicted = (model(x_test) > 0).numpy()
    # predicting every label always scores 2π/(1 + π) per label, about 0.3 on average here
    assert f1_score(y_test.numpy(), predicted, average="macro", zero_division=0) > 0.75
