"""Tables, learning-curve figures and the written report, from the experiment journal.

``tables`` renders the results tables, ``figures`` the PNG figures, ``discussion`` the
statements of REPORT.md computed from the results, and ``report`` puts them together into
``results.csv``, ``summary.md``, ``figures/`` and ``REPORT.md``.
"""

from .figures import METRICS, plot_learning_curves, plot_sweep
from .report import render_report, write_reports
from .tables import (
    BASELINE_TOLERANCE,
    EXTRA_COLUMNS,
    RESULT_COLUMNS,
    STUDY_TABLE,
    multiclass_table,
    results_frame,
    study_comparison,
    summary_table,
    sweep_table,
    to_markdown,
)

__all__ = [
    "BASELINE_TOLERANCE",
    "EXTRA_COLUMNS",
    "METRICS",
    "RESULT_COLUMNS",
    "STUDY_TABLE",
    "multiclass_table",
    "plot_learning_curves",
    "plot_sweep",
    "render_report",
    "results_frame",
    "study_comparison",
    "summary_table",
    "sweep_table",
    "to_markdown",
    "write_reports",
]
