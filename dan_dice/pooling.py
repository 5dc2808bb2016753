"""The ways a DAN pools the word vectors of a text into one vector, named once for the torch
model, the ONNX export, the torch-free edge runtime and the command line.

- ``"mean"``: the plain average (the DAN of Iyyer et al. and of the study).
- ``"attention"``: a weighted average, weights ``softmax_t(v · e_t)`` over the text's tokens
  with one learned vector ``v``.
- ``"max"``: the element-wise maximum (SWEM-max).
- ``"mean+max"``, ``"attention+max"``: the first vector, then the maximum, side by side.
"""

POOLINGS: tuple[str, ...] = ("mean", "attention", "max", "mean+max", "attention+max")
