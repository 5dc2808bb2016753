"""Export a fitted DAN to a small, self-contained artifact for :mod:`dan_dice.edge`.

The artifact is a zip archive holding

``model.onnx``
    The network as an ONNX graph (opset 17). Input ``ids``: int64 ``[batch, tokens]``, the
    token ids of each text padded with ``pad_id`` (an all-zero row of the embedding table).
    Output ``probabilities``: float32 ``[batch, n_classes]``. The graph gathers the word
    vectors, pools them over the non-padding tokens as the model's ``pooling`` says (their
    mean; attention weights, a softmax of ``v · e_t`` over the text's tokens; the element-wise
    maximum; or two of these side by side), and applies the MLP and a sigmoid (two classes:
    columns ``[1 - p, p]``), a softmax, or for multi-label models a sigmoid per label (column
    ``j``: the probability of label ``j``, each on its own).
``meta.json``
    The format name and version (3 for multi-label models, 2 otherwise: see
    :mod:`dan_dice.edge`), the task (``"binary"``, ``"multiclass"`` or ``"multilabel"``), the
    vocabulary (row ``i`` of the table is token ``i``), a fingerprint of the tokenizer, the
    labels and their dtype, the decision threshold (a list, one per label, for multi-label
    models), the quantization and the pooling (the graph applies it; an artifact without
    ``"pooling"`` is mean-pooled). Texts with lone surrogates are written as JSON escapes, read
    back unchanged.

The archive's comment seals it: ``dan-dice-sha256:`` and the SHA-256 of every byte before the
digest, checked by :mod:`dan_dice.edge` before it parses anything (see its docstring).

Tokens whose vector equals the unknown word's (words without a pretrained vector, when the
embeddings are frozen) are left out of the vocabulary: they read as unknown, with the same
vector, so predictions do not change and the table shrinks.

``quantize="int8"`` stores the embedding table as 8-bit codes with a float16 offset and scale
per row (each row's own range in :data:`TABLE_LEVELS` levels) and the dense layers as float16;
``"fp16"`` stores every weight as float16. The graph is lean: everything that depends only on
the weights (the float32 table, each token's attention score ``v · e_t``, the padding's score
and vector) is computed from initializers, which onnxruntime folds into constants at session
start, so a call gathers each token's row and score once, then one softmax, one MatMul for the
(weighted) mean, one ReduceMax and the MLP (see :func:`_pool`). The weights keep their names
from the release before (``table``, ``table_fp16`` or ``table_uint8`` with
``table_scale_fp16`` and ``table_low_fp16``, ``attention``, ``w0``, ``b0``...): the numpy
executor of :mod:`dan_dice.executors` reads them from the file, for artifacts of both releases.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .edge import (
    FORMAT,
    FORMAT_VERSION,
    MULTILABEL_FORMAT_VERSION,
    QUANTIZATIONS,
    SEAL,
    seal,
    single_label_task,
    tokenizer_fingerprint,
)
from .files import json_text, write_atomic
from .pooling import POOLINGS
from .targets import MULTILABEL
from .version import __version__

if TYPE_CHECKING:
    from onnx import ModelProto

    from .estimator import DANClassifier

OPSET = 17
IR_VERSION = 8  # that of opset 17: loads in onnxruntime 1.13 and later
TABLE_LEVELS = 128
"""Levels of an int8 table's codes over each row's range. The zip's deflate stores a code in
about the bits its levels need: 128 levels (7 bits) make the default cyberbullying artifact
0.97 MB rather than 256 levels' 1.09 MB, and move no test F1 (``reports/table_levels.md``).
Any count up to 256 reads back the same way, so artifacts of either count load."""


def export_model(
    clf: DANClassifier,
    path: str | os.PathLike,
    *,
    quantize: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the fitted ``clf`` as an edge artifact at ``path`` (see the module docstring)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(clf)
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")
    pooling = clf.module_.pooling
    if pooling not in POOLINGS:
        raise ValueError(f"cannot export pooling {pooling!r}: the edge runtime knows {POOLINGS}")
    state = {k: v.detach().cpu().numpy() for k, v in clf.module_.state_dict().items()}
    table = state.pop("embedding.weight")
    attention = state.pop("attention", None)
    distinct = (table != table[0]).any(axis=1)  # rows unlike the unknown word's
    distinct[0] = True
    keep = np.flatnonzero(distinct)
    tokens = [clf.vocabulary_.tokens[i] for i in keep]
    table = np.vstack([table[keep], np.zeros((1, table.shape[1]), table.dtype)])
    layers = [
        (state[f"mlp.{i}.weight"], state[f"mlp.{i}.bias"])
        for i in sorted({int(k.split(".")[1]) for k in state})
    ]
    multilabel = clf.y_type_ in MULTILABEL
    task = "multilabel" if multilabel else single_label_task(len(clf.classes_))
    model = _build_graph(table, layers, task, len(clf.classes_), quantize, pooling, attention)
    threshold = np.asarray(clf.threshold_, dtype=np.float64)
    meta = {
        "format": FORMAT,
        "format_version": MULTILABEL_FORMAT_VERSION if multilabel else FORMAT_VERSION,
        "task": task,
        "dan_dice_version": __version__,
        "tokenizer": tokenizer_fingerprint(),
        "vocabulary": tokens,
        "pad_id": len(tokens),
        "classes": clf.classes_.tolist(),
        "classes_dtype": clf.classes_.dtype.str,
        "threshold": threshold.tolist() if multilabel else float(threshold),
        "n_outputs": int(layers[-1][0].shape[0]),
        "quantization": quantize,
        "pooling": pooling,
    }
    members = {"meta.json": json_text(meta).encode(), "model.onnx": model.SerializeToString()}
    return write_atomic(path, package(members), overwrite=overwrite)


def package(members: dict[str, bytes]) -> bytes:
    """The sealed zip archive of ``members`` (name: bytes): see :func:`dan_dice.edge.seal`."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in members.items():
            _add(zf, name, data)
        zf.comment = SEAL + b"0" * 64
    return seal(archive.getvalue())


def _build_graph(
    table: np.ndarray,
    layers: list[tuple[np.ndarray, np.ndarray]],
    task: str,
    n_classes: int,
    quantize: str | None,
    pooling: str = "mean",
    attention: np.ndarray | None = None,
) -> ModelProto:
    """The ONNX graph: gather, pool over the non-padding tokens, MLP, probabilities."""
    from onnx import TensorProto, checker, helper

    g = _Graph(quantize)
    hidden = _pool(g, table, quantize, pooling, attention)
    for i, (w, b) in enumerate(layers):
        hidden = g.node(
            "Gemm", [hidden, g.weight(f"w{i}", w), g.weight(f"b{i}", b)], f"gemm{i}", transB=1
        )
        if i < len(layers) - 1:
            hidden = g.node("Relu", [hidden], f"relu{i}")
    if task == "multilabel":  # each label's own probability
        g.node("Sigmoid", [hidden], "probabilities")
    elif task == "binary":
        positive = g.node("Sigmoid", [hidden], "positive")
        negative = g.node("Sub", [g.constant("one", np.float32(1)), positive], "negative")
        g.node("Concat", [negative, positive], "probabilities", axis=1)
    else:
        g.node("Softmax", [hidden], "probabilities", axis=1)
    graph = helper.make_graph(
        g.nodes,
        "dan",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", n_classes])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="dan_dice",
        producer_version=__version__,
    )
    checker.check_model(model, full_check=True)
    return model


class _Graph:
    """The nodes and initializers of an ONNX graph being built; every name is its output's."""

    def __init__(self, quantize: str | None):
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.quantize = quantize

    def constant(self, name: str, value: Any) -> str:
        """An initializer (added once: later calls with the same name reuse it)."""
        from onnx import numpy_helper

        if all(t.name != name for t in self.initializers):
            self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def half(self, name: str, value: np.ndarray) -> str:
        """A weight stored as float16 and cast back to float32 once, at session start."""
        from onnx import TensorProto

        fp16 = self.constant(f"{name}_fp16", value.astype(np.float16))
        return self.node("Cast", [fp16], name, to=TensorProto.FLOAT)

    def weight(self, name: str, value: np.ndarray) -> str:
        """A model weight: float32, or float16 when the artifact is quantized."""
        return self.constant(name, value) if self.quantize is None else self.half(name, value)

    def axis(self, axis: int) -> str:
        """The axes input ``[axis]`` of Unsqueeze, Squeeze and ReduceSum."""
        return self.constant(f"axis_{axis}", np.array([axis]))


def _pool(
    g: _Graph, table: np.ndarray, quantize: str | None, pooling: str, attention: np.ndarray | None
) -> str:
    """Each text's pooled vector, ``[batch, dim or 2 * dim]``, from its rows gathered once.

    All that depends only on the weights is computed from initializers, so onnxruntime folds it
    into constants at session start: the float32 table, each token's attention score
    ``v · e_t``, and the padding's (-1e9, so its softmax weight is exactly 0). The mean or the
    attention's weighted mean is then one MatMul of each text's weights (for the mean, a
    softmax of equal scores) by its rows; where a maximum is taken, the padding row is -1e9 too,
    so it never wins (every text has a token: an empty one is the unknown word).
    """
    from onnx import TensorProto

    vectors = _float_table(g, table, quantize)
    is_padding = g.node(  # [rows, 1]: 1 in the padding row (the last, all zeros), else 0
        "OneHot",
        [
            g.constant("pad_ids", np.array([len(table) - 1])),
            g.constant("n_rows", np.int64(len(table))),
            g.constant("off_on", np.array([0, 1])),
        ],
        "is_padding",
        axis=0,
    )
    is_padding = g.node("Cast", [is_padding], "is_padding_float", to=TensorProto.FLOAT)
    column = g.node("Mul", [is_padding, g.constant("masked", np.float32(-1e9))], "padding_column")
    padding = g.node("Squeeze", [column, g.axis(1)], "padding")
    rows_table = vectors
    if pooling.endswith("max"):
        rows_table = g.node("Add", [vectors, column], "masked_table")
    rows = g.node("Gather", [rows_table, "ids"], "rows")  # [batch, tokens, dim]
    parts = []
    if pooling != "max":
        scores = padding  # equal scores for every token: the mean
        if pooling.startswith("attention"):
            scores = g.node("MatMul", [vectors, g.weight("attention", attention)], "table_scores")
            scores = g.node("Add", [scores, padding], "score_table")
        scores = g.node("Gather", [scores, "ids"], "scores")
        weights = g.node("Softmax", [scores], "weights", axis=1)
        weights = g.node("Unsqueeze", [weights, g.axis(1)], "weights_row")
        parts.append(g.node("MatMul", [weights, rows], "weighted"))  # [batch, 1, dim]
    if pooling.endswith("max"):
        parts.append(g.node("ReduceMax", [rows], "maximum", axes=[1], keepdims=1))
    pooled = g.node("Concat", parts, "pooled_row", axis=2) if len(parts) > 1 else parts[0]
    return g.node("Flatten", [pooled], "pooled", axis=1)


def _float_table(g: _Graph, table: np.ndarray, quantize: str | None) -> str:
    """The embedding table as float32 (computed from its stored form at session start)."""
    from onnx import TensorProto

    if quantize == "int8":  # row ~ low + scale * codes, TABLE_LEVELS over the row's range
        low, scale, codes = _quantize_rows(table)
        codes = g.node("Cast", [g.constant("table_uint8", codes)], "codes", to=TensorProto.FLOAT)
        scales = g.node("Unsqueeze", [g.half("table_scale", scale), g.axis(1)], "scales")
        lows = g.node("Unsqueeze", [g.half("table_low", low), g.axis(1)], "lows")
        return g.node("Add", [lows, g.node("Mul", [scales, codes], "scaled")], "table")
    if quantize == "fp16":  # the table is half the size in the file
        return g.half("table", table)
    return g.constant("table", table)


def _quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row affine codes: ``row ≈ low + scale * codes``, codes in 0..TABLE_LEVELS - 1.

    Each row gets the levels over its own [min, max], which halves the error of a symmetric
    code whenever a row is lopsided. ``low`` and ``scale`` are float16 (as stored); the codes
    are computed against those rounded values, so they compensate for them. An all-zero row
    (the padding row) stays exactly zero.
    """
    top = TABLE_LEVELS - 1
    low = table.min(axis=1).astype(np.float16)
    span = table.max(axis=1) - low.astype(np.float32)
    scale = (span / top).astype(np.float16)
    scale[scale == 0] = 1
    steps = (table - low.astype(np.float32)[:, None]) / scale.astype(np.float32)[:, None]
    codes = np.clip(np.round(steps), 0, top).astype(np.uint8)
    return low, scale, codes


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """Add a compressed member with a fixed date, so equal models give identical files."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data, compresslevel=9)
