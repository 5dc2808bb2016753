"""Token attributions by exact occlusion: what each word of a text adds to a class's logit.

A token occurrence's contribution is ``logit(text) − logit(text without that occurrence)``,
computed exactly rather than approximated by gradients: the network pools a bag of word
vectors, so the ``n`` occlusions of an ``n``-token text are ``n`` bags of ``n − 1`` ids, all
scored in one batched forward (no second tokenisation, no Python loop over tokens). Leaving
out the only token of a one-token text leaves the empty text, which is read as the unknown
word, as :meth:`~dan_dice.text.Vocabulary.encode` reads it. Unknown words are occluded like
any other: their contribution goes through the unknown-word vector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

MAX_IDS = 1 << 18
"""The most token ids one forward scores (a text's occlusions are ``n·(n − 1)`` ids)."""

Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``forward(ids, offsets) -> logits`` of a packed batch of texts, ``(n_texts, n_outputs)``."""


def occlusion_bags(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The text ``ids`` itself followed by its ``n`` occlusions (occurrence ``j`` left out), in
    the packed layout: ``(all_ids, offsets)`` of ``n + 1`` bags."""
    n = len(ids)
    if n == 1:
        return np.r_[ids, 0], np.array([0, 1])
    keep = ~np.eye(n, dtype=bool)
    occluded = np.broadcast_to(ids, (n, n))[keep]
    offsets = np.r_[0, n + (n - 1) * np.arange(n)]
    return np.r_[ids, occluded], offsets


def occlusions(forward: Forward, texts_ids: list[np.ndarray]) -> Iterator[np.ndarray]:
    """For each text's token ids, ``(n_tokens, n_outputs)``: the logits of the whole text minus
    those with each occurrence left out. Texts are scored in groups of at most
    :data:`MAX_IDS` ids, one forward a group."""
    group: list[tuple[np.ndarray, np.ndarray]] = []
    size = 0
    for ids in texts_ids:
        bags = occlusion_bags(np.asarray(ids, dtype=np.int64))
        if group and size + len(bags[0]) > MAX_IDS:
            yield from _score(forward, group)
            group, size = [], 0
        group.append(bags)
        size += len(bags[0])
    if group:
        yield from _score(forward, group)


def _score(forward: Forward, group: list[tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
    starts = np.cumsum([0, *(len(ids) for ids, _ in group)])
    ids = np.concatenate([ids for ids, _ in group])
    offsets = np.concatenate([o + s for (_, o), s in zip(group, starts, strict=False)])
    logits = np.asarray(forward(ids, offsets), dtype=np.float64)
    logits = logits.reshape(len(offsets), -1)
    first = 0
    for _, bag_offsets in group:
        block = logits[first : first + len(bag_offsets)]
        first += len(bag_offsets)
        yield block[0] - block[1:]


def explain_texts(clf: Any, texts: list[str], label: Any = None) -> list:
    """:meth:`DANClassifier.explain <dan_dice.estimator.DANClassifier.explain>` for a fitted
    estimator ``clf`` (see :func:`explain_with`)."""
    from .targets import MULTILABEL

    forward = _numpy_forward(clf.module_)
    multilabel = clf.y_type_ in MULTILABEL
    return explain_with(forward, clf.vocabulary_, clf.classes_.tolist(), multilabel, texts, label)


def explain_with(
    forward: Forward,
    vocabulary: Any,
    classes: list,
    multilabel: bool,
    texts: list[str],
    label: Any = None,
) -> list:
    """Per text, ``(token, contribution)`` pairs for one class of a network given by its
    ``forward`` over a :class:`~dan_dice.text.Vocabulary`'s ids: the positive class for two
    ``classes`` (or the negative one named by ``label``: the contributions change sign), the
    predicted one or ``label`` for more, the label named for a multi-label network (a dict of
    pairs per label for a list of labels)."""
    from .text import tokenize

    several = multilabel and isinstance(label, list | tuple)
    asked = list(label) if several else [label]
    unknown = [name for name in asked if name is not None and name not in classes]
    if unknown:
        raise ValueError(f"label {unknown[0]!r} is not one of the model's classes {classes}")
    if multilabel and label is None:
        raise ValueError(f"name the label to explain (label=..., one of {classes}) or a list")
    if multilabel or (len(classes) > 2 and label is not None):
        columns = np.array([[classes.index(name) for name in asked]] * len(texts))
    elif len(classes) > 2:
        columns = forward(*vocabulary.encode_batch(texts)).argmax(1)[:, None]
    else:
        columns = np.zeros((len(texts), 1), dtype=np.int64)
    sign = -1.0 if len(classes) == 2 and label == classes[0] else 1.0
    tokens = [tokenize(text) for text in texts]
    present = [i for i, words in enumerate(tokens) if words]
    texts_ids = (np.asarray(vocabulary.encode(texts[i])) for i in present)
    found = dict(zip(present, occlusions(forward, texts_ids), strict=True))
    explained = []
    for i, words in enumerate(tokens):
        deltas = found.get(i, np.zeros((0, len(classes))))  # an empty text: no pairs
        pairs = {
            name: list(zip(words, (sign * deltas[:, column]).tolist(), strict=True))
            for name, column in zip(asked, columns[i], strict=True)
        }
        explained.append(pairs if several else pairs[asked[0]])
    return explained


def _numpy_forward(module: Any) -> Forward:
    """``module``'s eval-mode logits of a packed batch, as numpy ``(n_texts, n_outputs)``."""
    import torch

    @torch.no_grad()
    def forward(ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        module.eval()
        logits = module(torch.from_numpy(ids), torch.from_numpy(offsets))
        return logits.reshape(len(offsets), -1).numpy()

    return forward
