#!/usr/bin/env python
"""Reproduce the study: DAN on GloVe, study losses x seeds on both datasets, into reports/.

``python run_experiments.py --help`` lists the options; ``--quick`` is a fast smoke test.
"""

import sys

from dan_dice.cli import run_guarded
from dan_dice.experiments import main

if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="run_experiments.py"))
