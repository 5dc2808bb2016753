"""dan-dice: GloVe Deep Averaging Network text classifiers with imbalance-aware losses.

``DANClassifier`` is imported lazily so that the torch-free parts (``dan_dice.text``,
``dan_dice.datasets``, the edge runtime) can be used where torch is not installed.
"""

from .version import __version__

__all__ = ["DANClassifier", "__version__"]


def __getattr__(name: str):
    if name == "DANClassifier":
        from .estimator import DANClassifier

        return DANClassifier
    raise AttributeError(f"module 'dan_dice' has no attribute {name!r}")
