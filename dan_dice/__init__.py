"""dan-dice: GloVe Deep Averaging Network text classifiers with imbalance-aware losses.

``DANClassifier`` is imported lazily so that the torch-free parts (``dan_dice.text``, the edge
runtime, ``dan-dice predict``) work in the base install (numpy and onnxruntime only); training
needs the ``train`` extra (``pip install 'dan-dice[train]'``).
"""

from .version import __version__

__all__ = ["DANClassifier", "__version__"]


def __getattr__(name: str):
    if name == "DANClassifier":
        try:
            from .estimator import DANClassifier
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"{exc}; DANClassifier needs pip install 'dan-dice[train]'",
                name=exc.name,
            ) from exc
        return DANClassifier
    raise AttributeError(f"module 'dan_dice' has no attribute {name!r}")
