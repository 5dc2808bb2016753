"""Export a fitted DAN to a small, self-contained artifact for :mod:`dan_dice.edge`.

The artifact is a zip archive holding

``model.onnx``
    The network as an ONNX graph (opset 17). Input ``ids``: int64 ``[batch, tokens]``, the
    token ids of each text padded with ``pad_id`` (an all-zero row of the embedding table).
    Output ``probabilities``: float32 ``[batch, n_classes]``. The graph gathers the word
    vectors, averages them over the non-padding tokens, and applies the MLP and a sigmoid
    (two classes: columns ``[1 - p, p]``) or a softmax.
``meta.json``
    The format name and version, the vocabulary (row ``i`` of the table is token ``i``), a
    fingerprint of the tokenizer, the labels and their dtype, the decision threshold and the
    quantization.

Tokens whose vector equals the unknown word's (words without a pretrained vector, when the
embeddings are frozen) are left out of the vocabulary: they read as unknown, with the same
vector, so predictions do not change and the table shrinks.

``quantize="int8"`` stores the embedding table as 8-bit codes with a float16 offset and scale
per row (each row's own range in 256 levels) and the dense layers as float16; ``"fp16"`` stores
every weight as float16. Only the gathered rows are converted to float32, so the table stays
compact in memory too; the small dense layers are cast back once, when onnxruntime folds
constants at session start.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .edge import FORMAT, FORMAT_VERSION, tokenizer_fingerprint
from .files import write_atomic

if TYPE_CHECKING:
    from onnx import ModelProto

    from .estimator import DANClassifier

QUANTIZATIONS = (None, "int8", "fp16")
OPSET = 17
IR_VERSION = 8  # that of opset 17: loads in onnxruntime 1.13 and later


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
    state = {k: v.detach().cpu().numpy() for k, v in clf.module_.state_dict().items()}
    table = state.pop("embedding.weight")
    distinct = (table != table[0]).any(axis=1)  # rows unlike the unknown word's
    distinct[0] = True
    keep = np.flatnonzero(distinct)
    tokens = [clf.vocabulary_.tokens[i] for i in keep]
    table = np.vstack([table[keep], np.zeros((1, table.shape[1]), table.dtype)])
    layers = [
        (state[f"mlp.{i}.weight"], state[f"mlp.{i}.bias"])
        for i in sorted({int(k.split(".")[1]) for k in state})
    ]
    model = _build_graph(table, layers, len(clf.classes_), quantize)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dan_dice_version": __version__,
        "tokenizer": tokenizer_fingerprint(),
        "vocabulary": tokens,
        "pad_id": len(tokens),
        "classes": clf.classes_.tolist(),
        "classes_dtype": clf.classes_.dtype.str,
        "threshold": clf.threshold_,
        "n_outputs": layers[-1][0].shape[0],
        "quantization": quantize,
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        _add(zf, "meta.json", json.dumps(meta, ensure_ascii=False).encode())
        _add(zf, "model.onnx", model.SerializeToString())
    return write_atomic(path, archive.getvalue(), overwrite=overwrite)


def _build_graph(
    table: np.ndarray,
    layers: list[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    quantize: str | None,
) -> ModelProto:
    """The ONNX graph: gather, average over non-padding tokens, MLP, probabilities."""
    from onnx import TensorProto, checker, helper, numpy_helper

    FLOAT = TensorProto.FLOAT
    nodes, initializers = [], []

    def constant(name: str, value: Any) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def half(name: str, value: np.ndarray) -> str:
        """A weight stored as float16 and cast back to float32 once, at session start."""
        return node("Cast", [constant(f"{name}_fp16", value.astype(np.float16))], name, to=FLOAT)

    weight = constant if quantize is None else half
    axis = constant("axis_1", np.array([1]))
    if quantize == "int8":  # row ~ low + scale * codes, 256 levels over the row's own range
        low, scale, codes = _quantize_rows(table)
        codes = node("Gather", [constant("table_uint8", codes), "ids"], "codes")
        codes = node("Cast", [codes], "codes_float", to=FLOAT)
        scales = node("Gather", [half("table_scale", scale), "ids"], "scales")
        scales = node("Unsqueeze", [scales, axis], "scales_row")
        scaled = node("Squeeze", [node("MatMul", [scales, codes], "scaled_sums"), axis], "scaled")
        lows = node("Gather", [half("table_low", low), "ids"], "lows")
        lows = node("ReduceSum", [lows, axis], "low_sums", keepdims=1)
        sums = node("Add", [scaled, lows], "sums")
    elif quantize == "fp16":  # gathered rows are cast, so the table stays half in memory
        halves = constant("table_fp16", table.astype(np.float16))
        vectors = node("Cast", [node("Gather", [halves, "ids"], "halves")], "vectors", to=FLOAT)
        sums = node("ReduceSum", [vectors, axis], "sums", keepdims=0)
    else:
        vectors = node("Gather", [constant("table", table), "ids"], "vectors")
        sums = node("ReduceSum", [vectors, axis], "sums", keepdims=0)
    is_token = node("Less", ["ids", constant("pad_id", np.int64(len(table) - 1))], "is_token")
    is_token = node("Cast", [is_token], "is_token_float", to=FLOAT)
    counts = node("ReduceSum", [is_token, axis], "counts", keepdims=1)
    hidden = node("Div", [sums, counts], "average")
    for i, (w, b) in enumerate(layers):
        hidden = node(
            "Gemm", [hidden, weight(f"w{i}", w), weight(f"b{i}", b)], f"gemm{i}", transB=1
        )
        if i < len(layers) - 1:
            hidden = node("Relu", [hidden], f"relu{i}")
    if n_classes == 2:
        positive = node("Sigmoid", [hidden], "positive")
        negative = node("Sub", [constant("one", np.float32(1)), positive], "negative")
        node("Concat", [negative, positive], "probabilities", axis=1)
    else:
        node("Softmax", [hidden], "probabilities", axis=1)
    graph = helper.make_graph(
        nodes,
        "dan",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("probabilities", FLOAT, ["batch", n_classes])],
        initializers,
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


def _quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row affine 8-bit codes: ``row ≈ low + scale * codes``, codes in 0..255.

    Each row gets the 256 levels over its own [min, max], which halves the error of a
    symmetric int8 code whenever a row is lopsided. ``low`` and ``scale`` are float16 (as
    stored); the codes are computed against those rounded values, so they compensate for them.
    An all-zero row (the padding row) stays exactly zero.
    """
    low = table.min(axis=1).astype(np.float16)
    span = table.max(axis=1) - low.astype(np.float32)
    scale = (span / 255).astype(np.float16)
    scale[scale == 0] = 1
    steps = (table - low.astype(np.float32)[:, None]) / scale.astype(np.float32)[:, None]
    codes = np.clip(np.round(steps), 0, 255).astype(np.uint8)
    return low, scale, codes


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """Add a compressed member with a fixed date, so equal models give identical files."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data, compresslevel=9)
