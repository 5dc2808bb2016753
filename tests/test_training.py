"""Tests for dan_dice.training: packed batches, the training loop, the device choice."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice.embeddings import embedding_matrix, load_word_vectors
from dan_dice.metrics import best_threshold
from dan_dice.model import DAN
from dan_dice.text import Vocabulary
from dan_dice.training import (
    PackedTexts,
    TrainingDivergedError,
    collapsed,
    evaluate,
    predict_logits,
    resolve_device,
    score_logits,
    torch_threads,
    train,
)

CPU = torch.device("cpu")
TEXTS = ["free prize now", "", "hello", "call mom later tonight please", "win win", "zz qq"]
VOCAB = Vocabulary.build(TEXTS[:5])
LABELS = np.arange(len(TEXTS)) % 2


def pack(texts, y) -> PackedTexts:
    ids, offsets = VOCAB.encode_batch(texts)
    return PackedTexts.from_numpy(ids, offsets, np.asarray(y), CPU)


def assert_same_pack(actual: PackedTexts, expected: PackedTexts):
    for name in ("ids", "offsets", "lengths", "y"):
        torch.testing.assert_close(getattr(actual, name), getattr(expected, name), msg=name)


def test_from_numpy_lengths_and_len():
    data = pack(TEXTS, LABELS)
    assert len(data) == len(TEXTS)
    assert data.lengths.tolist() == [len(VOCAB.encode(text)) for text in TEXTS]
    assert data.ids.dtype == data.offsets.dtype == data.y.dtype == torch.long


@settings(deadline=None)
@given(st.lists(st.integers(0, len(TEXTS) - 1), max_size=12))
def test_take_equals_packing_the_selected_texts(index):
    data = pack(TEXTS, LABELS)
    taken = data.take(torch.tensor(index, dtype=torch.long))
    expected = pack([TEXTS[i] for i in index], LABELS[index])
    assert_same_pack(taken, expected)


def test_chunks_cover_all_texts_in_order():
    data = pack(TEXTS, LABELS)
    chunks = list(data.chunks(4))
    assert [len(c) for c in chunks] == [4, 2]
    torch.testing.assert_close(torch.cat([c.ids for c in chunks]), data.ids)
    torch.testing.assert_close(torch.cat([c.y for c in chunks]), data.y)


# The training loop on the toy corpus, with the GloVe vectors of its words.


@pytest.fixture(scope="module")
def toy_data(toy_texts):
    X, y = toy_texts
    vocab = Vocabulary.build(X[:150])
    embeddings, _ = embedding_matrix(vocab, load_word_vectors())

    def packed(texts, labels):
        ids, offsets = vocab.encode_batch(texts)
        return PackedTexts.from_numpy(ids, offsets, labels, CPU)

    return embeddings, packed(X[:150], y[:150]), packed(X[150:], y[150:])


def make_model(embeddings, seed=0) -> DAN:
    torch.manual_seed(seed)
    return DAN(embeddings, hidden_sizes=(16,), dropout=0.0, word_dropout=0.0)


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target)


def run(toy_data, loss_fn, **kwargs):
    embeddings, train_data, val_data = toy_data
    model = make_model(embeddings)
    kwargs = {"n_classes": 2, "lr": 0.1, "batch_size": 32, "max_epochs": 5, **kwargs}
    return model, train(model, loss_fn, train_data, val_data, **kwargs)


def test_train_learns_the_toy_task(toy_data):
    _, result = run(toy_data, bce)
    assert max(record["val_f1"] for record in result.history) >= 0.9


def test_train_history_records_every_epoch(toy_data):
    _, result = run(toy_data, bce, max_epochs=3, patience=10)
    metrics = ["loss", "accuracy", "f1", "macro_f1", "precision", "recall"]
    metrics += ["majority_share", "collapsed"]
    expected = {"epoch", "val_tuned_f1", *(f"{p}_{m}" for p in ("train", "val") for m in metrics)}
    assert [record["epoch"] for record in result.history] == [1, 2, 3]
    for record in result.history:
        assert set(record) == expected
        assert all(math.isfinite(v) for v in record.values())


def sabotaged_bce(good_batches: int):
    """BCE for the first ``good_batches`` training batches, then its negative (gradient ascent),
    so that the validation F1 peaks early and the last epoch is not the best one."""
    calls = 0

    def loss(logits, target):
        nonlocal calls
        value = bce(logits, target)
        if logits.requires_grad:  # a training batch, not an evaluation
            calls += 1
            if calls > good_batches:
                return -value
        return value

    return loss


def test_train_restores_the_best_epoch(toy_data):
    _, _, val_data = toy_data
    loss = sabotaged_bce(good_batches=10)
    model, result = run(toy_data, loss, max_epochs=5, patience=5)
    val_f1 = [record["val_f1"] for record in result.history]
    assert len(val_f1) == 5
    assert result.best_epoch == int(np.argmax(val_f1)) + 1
    assert val_f1[-1] < max(val_f1)  # the test needs a worse last epoch to mean anything
    restored = evaluate(model, loss, val_data, n_classes=2)
    best = result.history[result.best_epoch - 1]
    assert restored == {k[4:]: v for k, v in best.items() if k.startswith("val_")}
    assert result.best_score == max(val_f1)


def test_evaluate_scores_predictions_at_the_threshold(toy_data):
    embeddings, _, val_data = toy_data
    model = make_model(embeddings)
    everything_positive = evaluate(model, bce, val_data, n_classes=2, threshold=1e-6)
    assert everything_positive["recall"] == 1.0
    assert everything_positive["accuracy"] == pytest.approx(val_data.y.float().mean().item())
    # tuned: the best F1 over the cuts that do not predict one class for (nearly) every text
    proba = torch.sigmoid(predict_logits(model, val_data)).numpy()
    best = best_threshold(val_data.y.numpy(), proba)
    assert everything_positive["tuned_f1"] == pytest.approx(best[1])


@pytest.mark.parametrize("threshold", [0.3, "tune"])
def test_train_picks_the_epoch_by_f1_at_the_threshold_it_will_use(toy_data, threshold):
    loss = sabotaged_bce(good_batches=10)
    _, result = run(toy_data, loss, max_epochs=5, patience=5, threshold=threshold)
    key = "val_tuned_f1" if threshold == "tune" else "val_f1"
    monitored = [record[key] for record in result.history]
    assert result.best_epoch == int(np.argmax(monitored)) + 1
    assert result.best_score == max(monitored)


def test_train_leaves_the_model_in_eval_mode(toy_data):
    model, _ = run(toy_data, bce, max_epochs=1)
    assert not model.training


def constant_loss(logits, target):
    """Zero gradients: the model never changes, so validation F1 never improves."""
    return (logits * 0).sum()


@pytest.mark.parametrize("patience", [1, 3])
def test_train_stops_after_patience_epochs_without_improvement(toy_data, patience):
    _, result = run(toy_data, constant_loss, max_epochs=20, patience=patience)
    assert result.best_epoch == 1
    assert len(result.history) == 1 + patience


def test_train_runs_max_epochs_when_patience_is_not_reached(toy_data):
    _, result = run(toy_data, constant_loss, max_epochs=3, patience=5)
    assert len(result.history) == 3


@pytest.mark.parametrize("patience_steps", [10, 25])
def test_patience_also_counts_optimiser_steps(toy_data, patience_steps):
    """150 texts in batches of 32 are 5 steps an epoch: 1 epoch of patience is not enough to
    cover ``patience_steps``, so training goes on until it does."""
    _, result = run(
        toy_data, constant_loss, max_epochs=50, patience=1, patience_steps=patience_steps
    )
    assert len(result.history) == 1 + math.ceil(patience_steps / 5)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "expected"),
    [
        ([0, 1] * 50, [0] * 100, True),
        ([0, 1] * 50, [0] * 99 + [1], True),
        ([0, 1] * 50, [0] * 98 + [1, 1], False),
        ([0] * 995 + [1] * 5, [0] * 1000, False),  # labels that one-sided: not a collapse
        ([0, 1, 2] * 10, [2] * 30, True),
    ],
)
def test_collapsed(y_true, y_pred, expected):
    n_classes = max(max(y_true), max(y_pred)) + 1
    assert collapsed(np.array(y_true), np.array(y_pred), n_classes) is expected


def test_a_collapsed_epoch_never_beats_one_that_is_not(toy_data, monkeypatch):
    """Scripted validation scores: epoch 2 has the best F1 but predicts one class; epoch 1,
    which has not collapsed, is restored."""
    import dan_dice.training as training

    script = iter([(0.2, 0.0), (0.33, 1.0), (0.1, 0.0)])  # one validation score per epoch

    def scripted(*args, **kwargs):
        f1, flag = next(script)
        return {"loss": 1.0, "f1": f1, "collapsed": flag}

    monkeypatch.setattr(training, "evaluate", scripted)
    _, result = run(toy_data, bce, max_epochs=3, patience=5)
    assert [r["val_collapsed"] for r in result.history] == [0.0, 1.0, 0.0]
    assert result.best_epoch == 1
    assert result.best_score == 0.2
    assert not result.collapsed


def test_equal_scores_are_broken_by_the_validation_loss(toy_data):
    _, result = run(toy_data, bce, max_epochs=8, patience=8, threshold="tune")
    best = result.history[result.best_epoch - 1]
    ties = [r for r in result.history if r["val_tuned_f1"] == best["val_tuned_f1"]]
    assert best["val_loss"] == min(r["val_loss"] for r in ties)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_raises_training_diverged(toy_data, bad):
    def loss(logits, target):
        return bce(logits, target) * bad

    with pytest.raises(TrainingDivergedError, match=r"epoch 1\b.*learning rate \(0\.05\)"):
        run(toy_data, loss, lr=0.05)


def test_divergence_in_a_later_epoch_names_that_epoch(toy_data):
    batches_per_epoch = math.ceil(150 / 32)
    calls = 0

    def loss(logits, target):
        nonlocal calls
        calls += logits.requires_grad
        return bce(logits, target) * (math.nan if calls > 2 * batches_per_epoch else 1.0)

    with pytest.raises(TrainingDivergedError, match=r"epoch 3\b.*\(0\.2\)"):
        run(toy_data, loss, lr=0.2)


def test_training_diverged_error_is_a_floating_point_error():
    assert issubclass(TrainingDivergedError, FloatingPointError)


@pytest.mark.parametrize("n", [1, 2])
def test_torch_threads_sets_then_restores(n):
    before = torch.get_num_threads()
    with torch_threads(n):
        assert torch.get_num_threads() == n
    assert torch.get_num_threads() == before


def test_torch_threads_none_leaves_the_setting():
    before = torch.get_num_threads()
    with torch_threads(None):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def test_torch_threads_restores_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), torch_threads(before + 1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_resolve_device_auto():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_resolve_device_cpu(device):
    assert resolve_device(device) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_resolve_device_cuda_without_gpu_is_a_clear_error(device):
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["banana", "tpu", "meta", "mps", "", None, 3])
def test_resolve_device_rejects_other_devices(device):
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu' or 'cuda'"):
        resolve_device(device)


# Multi-label epochs and running train figures


def test_multilabel_scores_and_collapse():
    Y = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]] * 25)
    good = (Y * 8 - 4).float()  # confident and right on every label
    empty = torch.full(Y.shape, -4.0)  # never predicts a label
    right = score_logits(good, Y, 3, "tune")
    assert right["macro_f1"] == right["tuned_f1"] == right["f1"] == 1.0
    assert right["accuracy"] == 1.0 and right["hamming"] == 0.0 and right["collapsed"] == 0.0
    wrong = score_logits(empty, Y, 3, 0.5, search=False)
    assert wrong["micro_f1"] == 0.0 and "tuned_f1" not in wrong
    assert wrong["collapsed"] == 1.0 and wrong["majority_share"] == 1.0  # one label set: {}


def test_multilabel_training_restores_the_best_tuned_epoch():
    rng = np.random.default_rng(0)
    words = [["free", "prize"], ["hello", "mom"], ["call", "tonight"]]
    Y = (rng.random((120, 3)) < 0.4).astype(np.int64)
    texts = [" ".join(w for j in np.flatnonzero(row) for w in words[j]) for row in Y]
    vocab = Vocabulary.build(texts)
    ids, offsets = vocab.encode_batch(texts)
    data = PackedTexts.from_numpy(ids, offsets, Y, CPU)
    torch.manual_seed(0)
    model = DAN(np.random.default_rng(1).normal(size=(len(vocab), 8)), (16,), n_outputs=3)
    loss = torch.nn.BCEWithLogitsLoss()
    result = train(model, loss, data, data, n_classes=3, lr=0.05, max_epochs=15, threshold="tune")
    best = result.history[result.best_epoch - 1]
    assert (
        result.best_score == best["val_tuned_f1"] == max(r["val_tuned_f1"] for r in result.history)
    )
    assert result.best_score > 0.9


def test_train_loss_is_the_running_mean_of_the_batches(toy_data):
    seen = []

    def recording_bce(logits, target):
        value = bce(logits, target)
        if logits.requires_grad:
            seen.append((float(value), len(target)))
        return value

    _, result = run(toy_data, recording_bce, max_epochs=1, patience=5)
    mean = sum(v * n for v, n in seen) / sum(n for _, n in seen)
    assert result.history[0]["train_loss"] == pytest.approx(mean, rel=1e-5)
