"""Report tables, study comparison, figures, discussion and atomic writes, on synthetic runs."""

from __future__ import annotations

import pytest

from dan_dice import reporting
from dan_dice.estimator import DANClassifier
from dan_dice.experiments import STUDY_PARAMS
from dan_dice.reporting import (
    results_frame,
    study_comparison,
    summary_table,
    write_reports,
)
from dan_dice.reporting.discussion import _class_weight_note, sweep_discussion

BASELINES = {
    "sms": {"accuracy": 0.8655, "f1": 0.0, "macro_f1": 0.4639},
    "cyberbullying": {"accuracy": 0.8334, "f1": 0.9087, "macro_f1": 0.4544},
}


def _record(dataset, loss, seed, accuracy, f1, majority_share=0.6, epochs=3):
    history = [
        {
            "epoch": e,
            **{
                f"{split}_{m}": 0.5 + 0.1 * e
                for split in ("train", "val")
                for m in ("f1", "accuracy")
            },
            "train_loss": 1 / e,
            "val_loss": 1.1 / e,
        }
        for e in range(1, epochs + 1)
    ]
    return {
        "dataset": dataset,
        "loss": loss,
        "seed": seed,
        "lr": 1e-3,
        "best_epoch": epochs,
        "accuracy": accuracy,
        "f1": f1,
        "macro_f1": 0.8,
        "precision": 0.9,
        "recall": 0.9,
        "train_seconds": 1.0,
        "tuning_seconds": 3.0,
        "majority_share": majority_share,
        "threshold": 0.4,
        "f1_at_0.5": f1 - 0.01,
        "accuracy_at_0.5": accuracy - 0.01,
        "history": history,
        "target_names": ["ham", "spam"],
        "per_class_f1": [0.99, f1],
        "positive_rate": 0.13,
        "config": {
            "lrs": [1e-3],
            "epochs": 3,
            "threshold": "tune",
            "quick": False,
            "split_seed": 0,
            "model_params": {},
        },
    }


@pytest.fixture
def records():
    return [
        _record("sms", "dice", 0, 0.98, 0.93),
        _record("sms", "dice", 1, 0.97, 0.91, epochs=2),
        _record("sms", "wbce", 0, 0.96, 0.85),
        _record("cyberbullying", "dice", 0, 0.8334, 0.9087, majority_share=1.0),
    ]


def test_results_frame_has_the_documented_columns_in_order(records):
    frame = results_frame(records)
    assert list(frame.columns[: len(reporting.RESULT_COLUMNS)]) == reporting.RESULT_COLUMNS
    assert "history" not in frame


def test_summary_gives_mean_and_std_beside_the_study_and_baseline(records):
    table = summary_table(results_frame(records), BASELINES)
    sms_dice = table[(table.dataset == "sms") & (table.loss == "dice")].iloc[0]
    assert sms_dice["accuracy"] == "0.9750 ± 0.0071"
    assert sms_dice["F1"] == "0.9200 ± 0.0141"
    assert sms_dice["study F1"] == "0.8676"
    assert sms_dice["threshold"] == "0.4000 ± 0.0000"
    assert sms_dice["F1 at 0.5"] == "0.9100 ± 0.0141"
    assert sms_dice["collapsed runs"] == "0"
    assert set(table[table.loss == "(majority class)"].dataset) == {"sms", "cyberbullying"}


def test_collapsed_runs_are_flagged(records):
    table = summary_table(results_frame(records), BASELINES)
    cyber = table[(table.dataset == "cyberbullying") & (table.loss == "dice")].iloc[0]
    assert cyber["collapsed runs"] == "⚠ 1"


def test_study_comparison_recognises_the_studys_collapsed_cell(records):
    cells = {
        (c["dataset"], c["loss"]): c for c in study_comparison(results_frame(records), BASELINES)
    }
    assert cells[("cyberbullying", "dice")]["study_collapsed"]
    assert not cells[("sms", "dice")]["study_collapsed"]
    assert cells[("sms", "dice")]["reached"]
    assert not cells[("sms", "wbce")]["reached"]  # 0.96 < 0.9740
    assert ("sms", "mse") not in cells  # not run: not compared


def test_write_reports_writes_every_file_and_the_discussion(tmp_path, records):
    write_reports(
        records,
        tmp_path,
        baselines=BASELINES,
        invocations=[
            {
                "command": "python run_experiments.py --test",
                "runs_added": 4,
                "wall_seconds": 12.0,
                "jobs": 2,
                "date": "2026-11-21 12:00",
            }
        ],
        environment={"torch": "x"},
        network={**DANClassifier().get_params(), **STUDY_PARAMS},
    )
    assert (tmp_path / "results.csv").read_text().count("\n") == 1 + len(records)
    assert "± " in (tmp_path / "summary.md").read_text()
    pngs = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert pngs == sorted(
        f"{d}_{m}.png" for d in ("sms", "cyberbullying") for m in reporting.METRICS
    )
    assert all((tmp_path / "figures" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    report = (tmp_path / "REPORT.md").read_text()
    assert "python run_experiments.py --test" in report
    assert "| 4 | 12 s | 2 |" in report
    assert "Not reached: sms/wbce" in report
    assert "cyberbullying/dice row is a collapsed model" in report
    assert "figures/sms_f1.png" in report
    assert "tuned on validation with the other hyper-parameters" in report
    assert "mean pooling of the word vectors" in report  # the grid's network, not the defaults'
    assert "`dice` 0.40 (F1 0.9200, at 0.5 0.9100)" in report
    assert not list(tmp_path.rglob("*.tmp"))


def test_figures_leave_the_process_wide_matplotlib_backend_alone(tmp_path, records, monkeypatch):
    import matplotlib

    def refuse(*args, **kwargs):
        raise AssertionError("a library function switched matplotlib's backend")

    monkeypatch.setattr(matplotlib, "use", refuse)
    paths = reporting.plot_learning_curves(records, tmp_path)
    assert paths and all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_sweep_table_flags_collapsed_cells_and_uses_full_data_as_first_rate(records):
    swept = [
        {**_record("sms@0.01", "dice", seed, 0.86, 0.0, majority_share=1.0), "positive_rate": 0.01}
        for seed in (0, 1)
    ]
    frame = results_frame([*records, *swept])
    table = reporting.sweep_table(frame)
    dice = table[table.loss == "dice"].iloc[0]
    assert dice["F1 at 13% positives"] == "0.9200 ± 0.0141"
    assert dice["F1 at 1% positives"] == "0.0000 ± 0.0000 ⚠ 2"
    lines = sweep_discussion(frame)
    assert "`dice` 0.920 → 0.000" in lines[0]
    assert any("At 1% positives, runs collapsed with: `dice`" in line for line in lines)
    assert any("`dice` lost more than half their F1 by 1% positives" in line for line in lines)


def test_class_weight_note_explains_wbce_where_positives_are_the_majority():
    runs = [
        {**_record("cyberbullying", "wbce", seed, 0.87, 0.925), "positive_rate": 0.8}
        for seed in (0, 1)
    ]
    frame = results_frame(runs)
    tuned = _class_weight_note(frame, tuned=True)
    assert len(tuned) == 1
    assert "2.50 for a negative, 0.62 for a positive" in tuned[0]
    assert "the tuned threshold is 0.40 on average" in tuned[0]
    assert "F1 0.9150 and accuracy 0.8600 instead of 0.9250 and 0.8700" in tuned[0]
    assert "`--threshold tune`" in _class_weight_note(frame, tuned=False)[0]
    assert _class_weight_note(results_frame([_record("sms", "wbce", 0, 0.9, 0.9)]), True) == []


def test_family_discussion_sets_each_family_loss_against_the_studys_best():
    from dan_dice.reporting.discussion import family_discussion
    from dan_dice.reporting.tables import results_frame

    runs = [
        _record("sms", "dice", 0, 0.98, 0.90),
        _record("sms", "wbce", 0, 0.97, 0.92),
        _record("sms", "tversky", 0, 0.98, 0.95),
        _record("sms", "dsc_published", 0, 0.87, 0.0, majority_share=1.0),
        _record("stormfront", "mse", 0, 0.90, 0.50),
        _record("stormfront", "focal", 0, 0.89, 0.45),
    ]
    runs[3]["macro_f1"] = 0.46
    lines = family_discussion(results_frame(runs))
    table = "\n".join(lines)
    assert "| sms | wbce (study) | 1 | 0.9200 | +0.0000 |" in table
    assert "| sms | tversky | 1 | 0.9500 | +0.0300 | 0.8000 | +0.0000 | 0 |" in table
    assert "| sms | dsc_published | 1 | 0.0000 | -0.9200 | 0.4600 | -0.3400 | 1 |" in table
    sms = next(line for line in lines if line.startswith("- **sms**"))
    assert "1 of 2 family losses beat the study's best F1 (`wbce`, 0.9200): `tversky`" in sms
    assert "Collapsed runs: `dsc_published` 1/1." in sms
    storm = next(line for line in lines if line.startswith("- **stormfront**"))
    assert "0 of 1 family losses" in storm and "No family run collapsed." in storm
    assert family_discussion(results_frame(runs[:2])) == []  # the study's losses only
