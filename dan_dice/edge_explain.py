"""Token attributions from an exported artifact (:mod:`dan_dice.edge`), without torch.

The same exact occlusion as :mod:`dan_dice.explain`, computed by the artifact's own ONNX graph:
its last sigmoid or softmax is what turns logits into probabilities, so its input is added as
a second output and each text's occlusions run as one padded batch. With an fp32 artifact the
contributions match the estimator's within 1e-5. An int8 artifact stores each embedding row in
:data:`~dan_dice.export.TABLE_LEVELS` levels of its own range and the dense layers in float16,
so its logits, and their differences, move: on the tests' models the contributions stay
within 0.1 of torch's (:data:`INT8_TOLERANCE`; 0.044 and 0.055 measured, against top
contributions of 18-29).
Needs the ``onnx`` package, which the export already uses.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .edge import EdgeClassifier
from .explain import explain_with

INT8_TOLERANCE = 0.1
"""The documented bound on ``|int8 contribution − torch contribution|`` (tested)."""


class EdgeExplainer:
    """Exact-occlusion explanations of an artifact's predictions: :meth:`explain` answers as
    :meth:`DANClassifier.explain <dan_dice.estimator.DANClassifier.explain>` does."""

    def __init__(self, path: str | os.PathLike):
        import onnx
        import onnxruntime as ort

        self._classifier = EdgeClassifier.load(path)  # the artifact checked, as for predict
        with zipfile.ZipFile(Path(path)) as archive:
            model = onnx.load_from_string(archive.read("model.onnx"))
        squashing = [n for n in model.graph.node if n.op_type in ("Sigmoid", "Softmax")]
        self._logits = squashing[-1].input[0]
        output = onnx.helper.make_tensor_value_info(self._logits, onnx.TensorProto.FLOAT, None)
        model.graph.output.append(output)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def explain(self, texts: list[str], label: Any = None) -> list:
        """Per text, ``(token, contribution)`` pairs (see :func:`dan_dice.explain.explain_with`)."""
        from .text import check_texts

        clf = self._classifier
        texts = check_texts(texts, name="texts", allow_empty=True)
        classes, multilabel = clf.classes_.tolist(), clf.task == "multilabel"
        return explain_with(self._forward, clf.vocabulary, classes, multilabel, texts, label)

    def _forward(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Logits of packed texts: padded with the artifact's padding id, one graph run."""
        lengths = np.diff(np.r_[offsets, len(ids)])
        padded = np.full((len(offsets), lengths.max()), self._classifier.pad_id, dtype=np.int64)
        padded[np.arange(lengths.max()) < lengths[:, None]] = ids
        logits = self._session.run([self._logits], {"ids": padded})[0]
        return logits.reshape(len(offsets), -1)
