#!/usr/bin/env python
"""Reproduce the study: DAN on GloVe, study losses x seeds on both datasets, into reports/.

``python run_experiments.py --help`` lists the options; ``--quick`` is a fast smoke test.
"""

import sys

from dan_dice.cli import run_experiments, run_guarded

if __name__ == "__main__":
    sys.exit(run_guarded(run_experiments, prog="run_experiments.py"))
