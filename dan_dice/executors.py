"""The two ways :class:`dan_dice.edge.EdgeClassifier` computes an artifact's graph.

Both take a batch in the packed layout of :meth:`dan_dice.text.Vocabulary.encode_batch` (flat
ids, the start offset of each text), run it in chunks of texts of similar lengths padded with
the padding id (:func:`in_chunks`; a single message as it is), and return the probabilities of
``model.onnx``'s output.

- :class:`OnnxExecutor` runs ``model.onnx`` in an onnxruntime session: it reads any artifact
  and can use several threads.
- :class:`NumpyExecutor` computes the same graph with plain numpy over the weights it reads from
  the ONNX file itself (:func:`read_initializers`, the protobuf wire format: neither ``onnx`` nor
  onnxruntime is imported), so a process needs less memory and no onnxruntime install. A single
  message takes its own path (:meth:`NumpyExecutor.one`: 1-D arrays, attention weights
  exponentiated at load, biases folded into the weights). It is the default on one thread;
  ``reports/edge.md`` measures both executors side by side.

ONNX stays the artifact and the interchange format: the numpy executor only reads its weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .files import one_line

CHUNK = 128
"""Most texts per chunk; texts are sorted by length first, so little is padding."""
CELLS = 4096
"""Most padded token ids per chunk (unless one text is longer): bounds the working memory."""
HEAD_ROWS = 512
"""Most pooled texts the numpy executor's MLP takes at a time. Few large products run faster
than many small ones, but not past this: twice as many rows make the first hidden layer a 1 MB
array, which the C allocator may hand back to the system after each block and fault in again
(the CHANGELOG's 0.2.0 entry gives the measurement)."""
PADDING = -1e9
"""The padding's attention score and, where a maximum is taken, its vector's values."""
TINY = 1e-30
"""The least sum of a text's attention weights ``exp(score - the table's highest score)``, kept
at load, that is used as it is: below it (far-apart scores) the text's softmax is shifted by its
own highest score, as the graph does, so that no weight's rounding matters."""
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 7: np.int64, 10: np.float16}
"""ONNX ``TensorProto`` data types the reader knows, by their number."""


class NumpyExecutor:
    """The exported DAN in numpy: gather, pool, MLP, output.

    Weights are those of ``model.onnx`` (a float16 or int8-coded table is dequantized once, at load,
    exactly as onnxruntime folds it), so the results match onnxruntime's to float32 rounding.
    Batches go as onnxruntime's do, sorted by length in padded chunks (:func:`in_chunks`); the
    padding row's attention score is -1e9 (a weight of exactly 0) and, where a maximum is
    taken, so is its vector. The products run in numpy's BLAS, whose own thread count applies
    (``OPENBLAS_NUM_THREADS=1`` for one thread).

    Every row of the table ends with a 1, so each part of a pooled vector does too (the
    weighted sum of that column is the attention weights' total, which then divides the part):
    the 1s are the input of the biases, folded into the weights (:func:`_folded`), so each layer
    is one product.
    """

    def __init__(
        self,
        table: np.ndarray,
        layers: list[tuple[np.ndarray, np.ndarray]],
        task: str,
        pooling: str,
        attention: np.ndarray | None = None,
    ):
        self.pad_id = len(table) - 1
        self.dim = table.shape[1]
        self.scores = self.weights = None
        if attention is not None:
            self.scores = table @ attention
            self.scores[self.pad_id] = PADDING
            self.weights = np.exp(self.scores - self.scores.max())  # the padding's: 0
        self.table = np.ones((len(table), self.dim + 1), dtype=np.float32)
        self.table[:, :-1] = table
        if pooling.endswith("max"):
            self.table[self.pad_id] = PADDING
        self.parts = 2 if "+" in pooling else 1
        if layers[0][0].shape[1] != self.parts * self.dim:
            raise ValueError(
                "has a graph that does not match its metadata: its first layer takes "
                f"{layers[0][0].shape[1]} values, not those of {pooling} pooling of "
                f"{self.dim}-d vectors"
            )
        last = len(layers) - 1
        self.folded = [
            _folded(w, b, last=i == last, parts=self.parts if i == 0 else 1)
            for i, (w, b) in enumerate(layers)
        ]
        self._zeros = [np.zeros(w.shape[1], dtype=np.float32) for w in self.folded[:-1]]
        self.task = task
        self.pooling = pooling
        self.has_mean, self.has_max = pooling.startswith("mean"), pooling.endswith("max")

    @classmethod
    def from_initializers(
        cls, arrays: dict[str, np.ndarray], task: str, pooling: str
    ) -> NumpyExecutor | None:
        """The executor of a graph with these initializers, or None for a layout it does not
        know (an artifact from before the row-wise int8 codes): onnxruntime reads those."""
        table = _float_table(arrays)
        attention = _weight(arrays, "attention")
        layers = []
        while (w := _weight(arrays, f"w{len(layers)}")) is not None:
            layers.append((w, _weight(arrays, f"b{len(layers)}")))
        if table is None or not layers or any(b is None for _, b in layers):
            return None
        if (attention is None) == pooling.startswith("attention"):
            return None
        return cls(table, layers, task, pooling, attention)

    @property
    def n_outputs(self) -> int:
        return self.folded[-1].shape[1]

    def __call__(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Probabilities of the texts ``ids[offsets[i]:offsets[i + 1]]``: pooled in padded
        chunks, then the MLP over :data:`HEAD_ROWS` pooled texts at a time (its products are
        most of a batch's work, and few large ones run faster than many small ones)."""
        if len(offsets) == 1:
            return self.one(ids)
        pooled = in_chunks(self.pool, ids, offsets, self.pad_id)
        return np.concatenate(
            [self._head(pooled[i : i + HEAD_ROWS]) for i in range(0, len(pooled), HEAD_ROWS)]
        )

    def one(self, ids: np.ndarray) -> np.ndarray:
        """Probabilities ``[1, outputs]`` of one text's ids (no padding): the fewest array
        operations, for single messages."""
        rows = self.table.take(ids, axis=0)
        width = self.dim + 1
        hidden = np.empty(self.parts * width, dtype=np.float32)
        first = hidden[:width]
        if self.weights is not None:
            np.dot(self.weights.take(ids), rows, out=first)
            if first[-1] < TINY:  # every score far below the table's highest: shift by the text's
                weights = self.scores[ids]
                np.dot(np.exp(weights - weights.max()), rows, out=first)
            first /= first[-1]
        elif self.has_mean:
            np.add.reduce(rows, axis=0, out=first)
            first /= first[-1]
        if self.has_max:
            np.maximum.reduce(rows, axis=0, out=hidden[-width:])
        for weights, zeros in zip(self.folded[:-1], self._zeros, strict=True):
            hidden = np.dot(hidden, weights)
            np.maximum(hidden, zeros, out=hidden)
        return _output(np.dot(hidden, self.folded[-1])[None], self.task)

    def pool(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The pooled vectors of padded ids ``[batch, tokens]``: ``[batch, parts * (dim + 1)]``,
        parts in the graph's order, each ending with a 1 (the padding needs no ``lengths``: its
        attention weight is 0, its row counts for nothing in the mean and loses every max)."""
        rows = self.table.take(ids.T, axis=0)  # [tokens, batch, dim + 1]: fast maxima over tokens
        by_text = rows.transpose(1, 0, 2)
        if self.pooling == "max":
            return rows.max(axis=0)
        if self.weights is not None:  # softmax_t(v · e_t) within each text
            weights = self.weights[ids]
        else:
            weights = (ids != self.pad_id).astype(np.float32)
        pooled = np.matmul(weights[:, None], by_text)[:, 0]
        if self.weights is not None and (low := pooled[:, -1] < TINY).any():
            shifted = self.scores[ids[low]]  # far-apart scores: shifted by the text's highest
            shifted = np.exp(shifted - shifted.max(axis=1, keepdims=True))
            pooled[low] = np.matmul(shifted[:, None], by_text[low])[:, 0]
        pooled /= pooled[:, -1:]
        return np.concatenate([pooled, rows.max(axis=0)], axis=1) if self.has_max else pooled

    def _head(self, pooled: np.ndarray) -> np.ndarray:
        """The MLP and the output ``[batch, outputs]`` on the pooled vectors."""
        hidden = pooled
        for weights in self.folded[:-1]:
            hidden = hidden @ weights
            np.maximum(hidden, 0, out=hidden)
        return _output(hidden @ self.folded[-1], self.task)


def _folded(w: np.ndarray, b: np.ndarray, last: bool, parts: int = 1) -> np.ndarray:
    """Weights ``[out, in]`` and bias as one matrix for an input whose ``parts`` equal parts
    each end with a 1: ``[in + parts, out + 1]``, whose output ends with a 1 too (ReLU keeps
    it), or ``[in + parts, out]`` for the last layer. The bias is the row of the first part's
    1; each layer of a text is then one product."""
    out, width = w.shape[0], w.shape[1] // parts
    folded = np.zeros((parts * (width + 1), out + (not last)), dtype=np.float32)
    for k in range(parts):
        rows = slice(k * (width + 1), k * (width + 1) + width)
        folded[rows, :out] = w[:, k * width : (k + 1) * width].T
    folded[width, :out] = b
    if not last:
        folded[width, -1] = 1
    return folded


def _output(logits: np.ndarray, task: str) -> np.ndarray:
    """The graph's probabilities from its last layer: a sigmoid per label (multi-label), the
    columns ``[1 - p, p]`` of one sigmoid (binary), or a softmax."""
    if task == "binary" and logits.size == 1:  # one message: Python's floats, no arrays
        logit = float(logits[0, 0])
        odds = math.exp(-abs(logit))
        proba = 1 / (1 + odds) if logit >= 0 else odds / (1 + odds)
        return np.array([[1 - proba, proba]], dtype=np.float32)
    if task == "multiclass":
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        return logits / logits.sum(axis=1, keepdims=True)
    proba = np.exp(-np.logaddexp(0, -logits))  # the sigmoid, without overflow
    if task == "multilabel":
        return proba
    return np.concatenate([1 - proba, proba], axis=1)


def _weight(arrays: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    """A float32 weight stored as ``name`` (float32) or ``name_fp16``."""
    if name in arrays:
        return arrays[name].astype(np.float32, copy=False)
    if f"{name}_fp16" in arrays:
        return arrays[f"{name}_fp16"].astype(np.float32)
    return None


def _float_table(arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """The embedding table in float32: as stored, or computed as the graph computes it from
    float16 values or from int8 codes, ``low + scale * codes`` row by row."""
    if "table_uint8" not in arrays:
        return _weight(arrays, "table")
    low, scale = _weight(arrays, "table_low"), _weight(arrays, "table_scale")
    if low is None or scale is None:
        return None
    return low[:, None] + scale[:, None] * arrays["table_uint8"].astype(np.float32)


class OnnxExecutor:
    """``model.onnx`` in an onnxruntime session (imported here, only when used)."""

    def __init__(self, model: bytes, n_threads: int, pad_id: int):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError(
                "the onnxruntime executor needs the onnxruntime package (pip install "
                "onnxruntime); executor='numpy' runs without it, on one thread"
            ) from exc

        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's exception types are not public
            raise ValueError(f"holds an invalid ONNX model ({one_line(exc)})") from exc
        self.pad_id = pad_id
        self.outputs = [output.name for output in self.session.get_outputs()]
        self.run_options = ort.RunOptions()  # made once: ~1 µs of a call

    def signature(self) -> tuple[list, list]:
        """The graph's inputs (name, type) and outputs (name, width)."""
        inputs = [(i.name, i.type) for i in self.session.get_inputs()]
        outputs = [(o.name, o.shape[-1] if o.shape else None) for o in self.session.get_outputs()]
        return inputs, outputs

    def __call__(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Probabilities of the texts ``ids[offsets[i]:offsets[i + 1]]``."""
        if len(offsets) == 1:
            return self.run(ids[None])
        return in_chunks(self.run, ids, offsets, self.pad_id)

    def run(self, ids: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """One session call on padded ids ``[batch, tokens]`` (the graph masks the padding
        itself: ``lengths`` is not needed)."""
        return self.session.run(self.outputs, {"ids": ids}, self.run_options)[0]


def in_chunks(
    run: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ids: np.ndarray,
    offsets: np.ndarray,
    pad_id: int,
) -> np.ndarray:
    """``run(padded ids, lengths)`` over the texts ``ids[offsets[i]:offsets[i + 1]]``, sorted by
    length (so little is padding) in chunks of at most :data:`CHUNK` texts and :data:`CELLS`
    ids, its rows put back in the texts' order; a single message as it is."""
    if len(offsets) == 1:
        return run(ids[None], np.array([len(ids)]))
    lengths = np.diff(offsets, append=len(ids))
    order = np.argsort(lengths, kind="stable")
    lengths, starts = lengths[order], offsets[order, None]  # in that order: chunks are slices
    columns = np.arange(lengths[-1])
    proba = None
    begin = 0
    while begin < len(order):
        widest = lengths[min(begin + CHUNK, len(order)) - 1]
        end = min(begin + max(1, min(CHUNK, CELLS // widest)), len(order))
        width = columns[: lengths[end - 1]]
        tokens = ids.take(starts[begin:end] + width, mode="clip")
        chunk = lengths[begin:end]
        part = run(np.where(width < chunk[:, None], tokens, pad_id), chunk)
        if proba is None:
            proba = np.empty((len(offsets), part.shape[1]), dtype=np.float32)
        proba[order[begin:end]] = part
        begin = end
    return proba


def read_initializers(model: bytes) -> dict[str, np.ndarray]:
    """The initializers of an ONNX model (``ModelProto`` bytes) as read-only arrays, by name.

    Reads the protobuf wire format directly: the graph is field 7 of the model, its
    initializers field 5 of the graph, each a ``TensorProto`` with ``dims`` (1), ``data_type``
    (2), ``name`` (8) and ``raw_data`` (9). Tensors stored otherwise (not as raw bytes, or of a
    type not in :data:`DTYPES`) are left out. Malformed bytes raise ``ValueError``.
    """
    view = memoryview(model)
    graph = next((value for field, value in _fields(view) if field == 7), None)
    if graph is None:
        raise ValueError("no graph")
    arrays = {}
    for field, value in _fields(graph):
        if field == 5 and (tensor := _tensor(value)) is not None:
            arrays[tensor[0]] = tensor[1]
    return arrays


def _tensor(message: memoryview) -> tuple[str, np.ndarray] | None:
    dims, data_type, name, raw = [], None, None, None
    for field, value in _fields(message):
        if field == 1:  # dims: one varint each, or packed
            dims.extend([value] if isinstance(value, int) else _packed(value))
        elif field == 2:
            data_type = value
        elif field == 8:
            name = bytes(value).decode()
        elif field == 9:
            raw = value
    if name is None or raw is None or data_type not in DTYPES:
        return None
    array = np.frombuffer(raw, dtype=np.dtype(DTYPES[data_type]).newbyteorder("<"))
    if array.size != int(np.prod(dims)):
        raise ValueError(f"initializer {name!r} has {array.size} values for shape {dims}")
    # a view at an odd offset of the file is unaligned, and numpy copies an unaligned array
    # whole for every take(): a float32 table would cost a copy per message
    array = np.require(array.reshape(dims), requirements="A")
    array.flags.writeable = False
    return name, array


def _fields(message: memoryview) -> Any:
    """(field number, value) of each field of a protobuf message: an int for varints, a
    memoryview for the rest."""
    position, end = 0, len(message)
    while position < end:
        key, position = _varint(message, position)
        wire = key & 7
        if wire == 0:
            value, position = _varint(message, position)
        elif wire in (1, 2, 5):
            if wire == 2:
                size, position = _varint(message, position)
            else:
                size = 8 if wire == 1 else 4
            value, position = message[position : position + size], position + size
            if position > end:
                raise ValueError("a field runs past the end of its message")
        else:
            raise ValueError(f"protobuf wire type {wire} is not readable")
        yield key >> 3, value


def _varint(data: memoryview, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ValueError("a number runs past the end of its message")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def _packed(data: memoryview) -> list[int]:
    values, position = [], 0
    while position < len(data):
        value, position = _varint(data, position)
        values.append(value)
    return values
