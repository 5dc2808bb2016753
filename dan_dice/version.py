"""The package's version, in a module of its own so that every module can read it without
importing the package's ``__init__`` (which hands on ``DANClassifier``)."""

__version__ = "0.2.0"
