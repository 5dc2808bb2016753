"""Tests for dan_dice.model: the Deep Averaging Network module."""

import numpy as np
import pytest
import torch

from dan_dice.model import DAN, Dropout, kept_mask
from dan_dice.pooling import POOLINGS

# Texts in the packed layout: [1, 2, 3], [4], [2, 2, 5, 6, 7, 1], [3, 1]
IDS = torch.tensor([1, 2, 3, 4, 2, 2, 5, 6, 7, 1, 3, 1])
OFFSETS = torch.tensor([0, 3, 4, 10])
TEXTS = [[1, 2, 3], [4], [2, 2, 5, 6, 7, 1], [3, 1]]


def make_dan(n_outputs=1, hidden_sizes=(6, 5), word_dropout=0.0, seed=0, **kwargs) -> DAN:
    torch.manual_seed(seed)
    embeddings = np.random.default_rng(seed).normal(size=(8, 4)).astype(np.float32)
    return DAN(
        embeddings,
        hidden_sizes=hidden_sizes,
        n_outputs=n_outputs,
        dropout=0.0,
        word_dropout=word_dropout,
        **kwargs,
    )


def test_binary_output_is_one_logit_per_text():
    assert make_dan(n_outputs=1)(IDS, OFFSETS).shape == (4,)


def test_multiclass_output_is_one_logit_per_class():
    assert make_dan(n_outputs=3)(IDS, OFFSETS).shape == (4, 3)


def test_no_hidden_layer_is_a_linear_model():
    model = make_dan(hidden_sizes=())
    assert len(model.mlp) == 1
    assert model(IDS, OFFSETS).shape == (4,)


def test_hidden_layers_have_the_requested_widths():
    model = make_dan(hidden_sizes=(7, 3))
    widths = [(m.in_features, m.out_features) for m in model.mlp if isinstance(m, torch.nn.Linear)]
    assert widths == [(4, 7), (7, 3), (3, 1)]


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_eval_output_is_mlp_of_mean_embedding(n_outputs):
    model = make_dan(n_outputs=n_outputs, word_dropout=0.5).eval()
    table = model.embedding.weight.detach()
    linears = [m for m in model.mlp if isinstance(m, torch.nn.Linear)]
    expected = []
    for ids in TEXTS:
        x = table[ids].mean(0)
        for i, layer in enumerate(linears):
            x = x @ layer.weight.detach().T + layer.bias.detach()
            if i < len(linears) - 1:
                x = torch.relu(x)
        expected.append(x)
    expected = torch.stack(expected).squeeze(-1)
    with torch.no_grad():
        torch.testing.assert_close(model(IDS, OFFSETS), expected)


def test_eval_average_is_exact_mean_of_token_vectors():
    model = make_dan(word_dropout=0.5).eval()
    table = model.embedding.weight.detach()
    expected = torch.stack([table[ids].mean(0) for ids in TEXTS])
    with torch.no_grad():
        torch.testing.assert_close(model.pool(IDS, OFFSETS), expected)


def one_hot_dan(word_dropout: float) -> DAN:
    """A DAN whose embedding of token i is the unit vector e_i, so averages show which survive."""
    return DAN(np.eye(8, dtype=np.float32), hidden_sizes=(), word_dropout=word_dropout)


def test_word_dropout_is_off_in_eval_mode():
    model = one_hot_dan(word_dropout=0.9).eval()
    with torch.no_grad():
        first, second = model.pool(IDS, OFFSETS), model.pool(IDS, OFFSETS)
    torch.testing.assert_close(first, second)
    torch.testing.assert_close(first.sum(1), torch.ones(4))
    assert (first[2] > 0).sum() == 5  # all five distinct tokens of text 2 are kept


def test_word_dropout_drops_tokens_in_train_mode():
    model = one_hot_dan(word_dropout=0.5).train()
    torch.manual_seed(0)
    with torch.no_grad():
        averages = torch.cat([model.pool(IDS, OFFSETS) for _ in range(20)])
    full = one_hot_dan(0.5).eval().pool(IDS, OFFSETS).detach().repeat(20, 1)
    assert not torch.allclose(averages, full)


def test_word_dropout_never_empties_a_text():
    model = one_hot_dan(word_dropout=0.95).train()
    torch.manual_seed(0)
    with torch.no_grad():
        for _ in range(50):
            averages = model.pool(IDS, OFFSETS)
            torch.testing.assert_close(averages.sum(1), torch.ones(4))
            for text, row in zip(TEXTS, averages, strict=True):
                kept = row.nonzero().flatten()
                assert len(kept) > 0
                assert set(kept.tolist()) <= set(text)


def test_word_dropout_is_deterministic_under_a_seed():
    model = make_dan(word_dropout=0.5).train()
    torch.manual_seed(123)
    first = model(IDS, OFFSETS).detach()
    torch.manual_seed(123)
    second = model(IDS, OFFSETS).detach()
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_frozen_embeddings_do_not_require_grad():
    model = make_dan(freeze_embeddings=True)
    assert not model.embedding.weight.requires_grad
    assert all(p.requires_grad for p in model.mlp.parameters())


def test_trainable_embeddings_get_gradients():
    model = make_dan(freeze_embeddings=False)
    assert model.embedding.weight.requires_grad
    model(IDS, OFFSETS).sum().backward()
    grad = model.embedding.weight.grad
    assert grad is not None and grad.is_sparse  # only the rows of the batch are updated
    grad = grad.to_dense()
    assert grad[1:8].abs().sum(1).gt(0).all()  # tokens 1..7 appear in the batch
    assert grad[0].abs().sum() == 0  # token 0 does not


def test_training_unfrozen_embeddings_leaves_the_input_array_unchanged():
    embeddings = np.ones((8, 4), dtype=np.float32)
    model = DAN(embeddings, hidden_sizes=(), freeze_embeddings=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    model(IDS, OFFSETS).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(embeddings, np.ones((8, 4)))


# Poolings other than the mean.


def reference_pool(table: torch.Tensor, ids: list[int], pooling: str, v: torch.Tensor):
    """One text's pooled vector, written out plainly."""
    vectors = table[ids]
    weights = torch.softmax(vectors @ v, 0)
    parts = {
        "mean": vectors.mean(0),
        "attention": (weights[:, None] * vectors).sum(0),
        "max": vectors.max(0).values,
    }
    return torch.cat([parts[name] for name in pooling.split("+")])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_eval_pooling_matches_its_definition(pooling):
    model = make_dan(pooling=pooling).eval()
    if pooling.startswith("attention"):
        with torch.no_grad():
            model.attention.copy_(torch.tensor([1.5, -2.0, 0.5, 1.0]))
    table, v = model.embedding.weight.detach(), getattr(model, "attention", torch.zeros(4))
    expected = torch.stack([reference_pool(table, ids, pooling, v.detach()) for ids in TEXTS])
    with torch.no_grad():
        torch.testing.assert_close(model.pool(IDS, OFFSETS), expected)


def test_untrained_attention_is_the_mean():
    """The scoring vector starts at zero: equal weights, so training starts from the DAN."""
    attention, mean = make_dan(pooling="attention").eval(), make_dan(pooling="mean").eval()
    with torch.no_grad():
        torch.testing.assert_close(attention(IDS, OFFSETS), mean(IDS, OFFSETS))


@pytest.mark.parametrize("pooling", ["attention", "max", "attention+max"])
def test_word_dropout_drops_tokens_from_every_pooling(pooling):
    """In training mode a dropped token must not reach the pooled vector: with a one-hot table
    every pooled vector's support is the set of tokens kept, never empty."""
    torch.manual_seed(0)
    model = DAN(np.eye(8, dtype=np.float32), hidden_sizes=(), word_dropout=0.5, pooling=pooling)
    model.train()
    with torch.no_grad():
        pooled = model.pool(IDS, OFFSETS)[:, :8]
    supports = [set(torch.nonzero(row > 0).flatten().tolist()) for row in pooled]
    for ids, support in zip(TEXTS, supports, strict=True):
        assert support and support <= set(ids)
    assert any(support != set(ids) for ids, support in zip(TEXTS, supports, strict=True))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_fine_tuned_embeddings_get_sparse_gradients(pooling):
    """LazyAdam needs sparse gradients on the table, whatever the pooling."""
    model = make_dan(pooling=pooling, freeze_embeddings=False)
    model(IDS, OFFSETS).sum().backward()
    assert model.embedding.weight.grad.is_sparse


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling must be one of"):
        make_dan(pooling="median")


def test_pooling_plus_max_doubles_the_first_layer():
    assert make_dan(pooling="mean+max", hidden_sizes=(5,)).mlp[0].in_features == 8


def test_start_at_rates_sets_the_untrained_outputs_to_the_rates():
    model = DAN(np.random.default_rng(0).normal(size=(10, 4)), (8,), n_outputs=3, dropout=0.0)
    for layer in model.mlp[:-1]:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.zeros_(layer.weight)  # the hidden features are then 0: only biases
            torch.nn.init.zeros_(layer.bias)
    torch.nn.init.zeros_(model.mlp[-1].weight)
    model.start_at_rates(np.array([0.5, 0.02, 0.0]))
    model.eval()
    proba = torch.sigmoid(model(torch.tensor([1, 2, 3]), torch.tensor([0])))
    np.testing.assert_allclose(proba.detach().numpy()[0], [0.5, 0.02, 1e-4], rtol=1e-5)


def test_dropout_keeps_the_expected_share_and_rescales():
    layer = Dropout(0.2).train()
    torch.manual_seed(0)
    out = layer(torch.ones(200, 500))
    kept = out != 0
    assert abs(kept.float().mean().item() - 205 / 256) < 0.005  # p = 0.2 rounds to 51/256
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 256 / 205))


def test_dropout_is_the_identity_in_eval_mode_or_at_zero():
    x = torch.randn(4, 6)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_dropout_masks_follow_torch_seed():
    layer = Dropout(0.5).train()
    torch.manual_seed(3)
    first = layer(torch.ones(50))
    torch.manual_seed(3)
    assert torch.equal(layer(torch.ones(50)), first)
    assert not torch.equal(layer(torch.ones(50)), first)


@pytest.mark.parametrize("shape", [(1,), (7,), (9,), (2801,), (128, 256), (13, 5)])
def test_kept_mask_is_numpy_generators_bytes_under_the_torch_seed(shape):
    """The masks as ``default_rng(seed).bytes`` against the cut made them before, the seed
    drawn from torch's generator, so training runs stay the same bit for bit."""
    torch.manual_seed(11)
    seed = int(torch.randint(2**62, ()))
    size = int(np.prod(shape))
    bits = np.frombuffer(np.random.default_rng(seed).bytes(size), dtype=np.uint8)
    torch.manual_seed(11)
    np.testing.assert_array_equal(kept_mask(shape, 0.3), bits.reshape(shape) >= 77)


def test_dropout_passes_gradients_through_kept_elements_only():
    x = torch.ones(100, requires_grad=True)
    torch.manual_seed(0)
    out = Dropout(0.3).train()(x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, out.detach())
