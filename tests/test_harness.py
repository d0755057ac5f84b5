"""The evaluation harness: metric functions on hand-made inputs with exact answers, one
small end-to-end run through ``chat2task eval`` (outputs, history, floors, out-of-domain
columns), and the error-analysis notebook executed headless on that run's outputs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import nbclient
import nbformat
import numpy as np
import pytest
import typer
from typer.testing import CliRunner, Result

from eval.commands import register
from eval.harness.floors import broken_floors, load_floors
from eval.harness.labelled import GoldItem, GoldMessage, Outcome
from eval.harness.metrics import (
    accuracy,
    bootstrap_ci,
    calibration,
    confusion_matrix,
    macro_f1,
    per_class,
    ratio,
    token_f1,
)
from eval.harness.scoring import check, predicted_intent, predicted_priority
from pipeline.domain import Grain, Item, ItemType, Message, Priority
from pipeline.errors import ConfigError
from pipeline.extract import Clause, Prediction
from pipeline.registry import intent_classifiers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "error_analysis.ipynb"
BERLIN = ZoneInfo("Europe/Berlin")
SENT = datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN)  # a Tuesday
ALWAYS_TASK = "harness-test-always-task"


# ------------------------------------------------------------------ metric functions
def test_confusion_accuracy_and_macro_f1_by_hand() -> None:
    gold = ["a", "a", "b", "b"]
    pred = ["a", "b", "b", "b"]
    matrix = confusion_matrix(gold, pred, ("a", "b", "c"))
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    assert accuracy(matrix) == 0.75
    # a: 2·1/(2·1+0+1) = 2/3; b: 2·2/(2·2+1+0) = 4/5; c: nobody has or predicts it → skipped
    assert macro_f1(matrix) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert per_class(matrix, ("a", "b", "c")) == {
        "a": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2},
        "b": {"precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2},
        "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
    }


def test_macro_f1_counts_a_predicted_only_class_as_zero() -> None:
    matrix = confusion_matrix(["a", "a"], ["a", "b"], ("a", "b"))
    assert macro_f1(matrix) == pytest.approx((2 / 3 + 0.0) / 2)


def test_bootstrap_interval_holds_the_estimate_and_repeats_for_a_seed() -> None:
    # five conversations as [hits, messages]: overall 14 / 20 = 0.7
    units = np.array([[3, 4], [2, 4], [4, 4], [1, 4], [4, 4]], dtype=float)
    point = ratio(units.sum(axis=0))
    low, high = bootstrap_ci(units, ratio, resamples=1000, seed=7)
    assert point == 0.7
    assert low <= point <= high
    assert (low, high) == bootstrap_ci(units, ratio, resamples=1000, seed=7)
    assert 0.25 <= low < high <= 1.0
    assert bootstrap_ci(units[:1], ratio, seed=7) == (0.75, 0.75)  # one unit: no spread


def test_bootstrap_of_macro_f1_over_confusion_matrices() -> None:
    units = np.stack(
        [confusion_matrix(["a", "b"], ["a", "b"], ("a", "b")) for _ in range(3)]
        + [confusion_matrix(["a", "b"], ["b", "b"], ("a", "b"))]
    )
    point = macro_f1(units.sum(axis=0))
    low, high = bootstrap_ci(units, macro_f1, resamples=500, seed=1)
    assert low <= point <= high <= 1.0


def test_ece_by_hand() -> None:
    # bin (0.8, 0.9]: confidence 0.9, accuracy 0.5; bin (0.5, 0.6]: confidence 0.6, accuracy 1
    result = calibration([0.9, 0.9, 0.6, 0.6], [True, False, True, True])
    assert result.ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert len(result.bins) == 10
    assert result.bins[8] == {
        "low": 0.8,
        "high": 0.9,
        "count": 2,
        "confidence": 0.9,
        "accuracy": 0.5,
    }
    assert calibration([0.0], [False]).bins[0]["count"] == 1
    assert calibration([1.0, 1.0], [True, True]).ece == 0.0


def test_token_f1() -> None:
    assert token_f1("Send the deck", "send deck") == pytest.approx(0.8)
    assert token_f1("Call", "Team meeting") == 0.0


# ------------------------------------------------------------------ message scoring
def _item(kind: ItemType, priority: Priority = Priority.NORMAL, **fields: object) -> Item:
    return Item(
        type=kind,
        title="Send deck to Tom",
        priority=priority,
        confidence=0.8,
        message_id="m",
        **fields,  # type: ignore[arg-type]
    )


def _gold(items: Sequence[GoldItem], intent: str, priority: str = "normal") -> GoldMessage:
    message = Message(id="m", chat="c1", author="Ana", sent_at=SENT, text="…")
    return GoldMessage(message, "test", ("Ana", "Tom"), intent, priority, tuple(items), None)


def test_message_level_labels_follow_the_guide() -> None:
    items = [_item(ItemType.EVENT), _item(ItemType.TASK, Priority.URGENT)]
    assert predicted_intent(items) == "event"
    assert predicted_intent([]) == "none"
    assert predicted_priority(items) == "urgent"
    assert predicted_priority([]) == "normal"


def test_a_message_is_entirely_right_only_when_every_part_is() -> None:
    friday = datetime(2026, 3, 13, tzinfo=BERLIN)
    want = GoldItem("task", "Send the deck to Tom", "Tom", "by friday", friday, "day")
    gold = _gold([want], "task", "high")
    same_day = datetime(2026, 3, 13, 17, 0, tzinfo=BERLIN)  # right at day grain
    right = _item(
        ItemType.TASK,
        Priority.HIGH,
        assignee="Tom",
        due=same_day,
        grain=Grain.HOUR,
        time_text="by friday",
    )
    result = check(Outcome(gold, (right,), 0.8, 1.0))
    assert result.intent_ok and result.priority_ok and result.due_ok
    assert result.entirely_right
    policy_only = _item(ItemType.TASK, Priority.HIGH, assignee="Tom", due=same_day)
    result = check(Outcome(gold, (policy_only,), 0.8, 1.0))  # a default due is no time
    assert result.due_ok is None
    assert not result.pairs[0].time_ok and not result.entirely_right
    wrong_person = _item(
        ItemType.TASK, Priority.HIGH, assignee="Ana", due=same_day, time_text="by friday"
    )
    result = check(Outcome(gold, (wrong_person,), 0.8, 1.0))
    assert result.due_ok and not result.entirely_right
    assert check(Outcome(_gold([], "none"), (), None, 1.0)).entirely_right


def test_floors() -> None:
    headline = {"intent_accuracy": {"value": 0.8}, "due_exact": {"value": float("nan")}}
    assert broken_floors(headline, {"intent_accuracy": 0.75}) == []
    assert broken_floors(headline, {"intent_accuracy": 0.9, "due_exact": 0.1}) == [
        "intent_accuracy 0.8000 < floor 0.9000",
        "due_exact nan < floor 0.1000",
    ]
    with pytest.raises(ConfigError, match="unknown metrics: macro"):
        broken_floors(headline, {"macro": 0.5})


def test_repository_floors_name_headline_metrics() -> None:
    floors = load_floors(ROOT / "eval" / "floors.yaml")
    assert {"intent_accuracy", "intent_macro_f1", "priority_accuracy"} <= set(floors)
    assert all(0 < value < 1 for value in floors.values())


# ------------------------------------------------------------------ end to end
@dataclass
class _AlwaysTask:
    """A stand-in for a trained classifier, so the side-by-side columns are exercised."""

    labels: tuple[str, ...] = ("task", "event", "none")

    def predict(self, clauses: Sequence[Clause]) -> list[Prediction]:
        return [Prediction("task", 0.9) for _ in clauses]


if ALWAYS_TASK not in intent_classifiers.get_all():
    intent_classifiers.register(ALWAYS_TASK, func=lambda settings: _AlwaysTask())


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def version() -> None:  # a second command keeps "eval" a named subcommand
        """Unused."""

    register(app)
    return app


def _eval(**options: object) -> Result:
    """``chat2task eval --some-option value …`` in process."""
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    return CliRunner().invoke(_cli(), ["eval", *args])


def _dev_conversations(count: int) -> list[str]:
    """The first ``count`` dev conversations, as labelled lines."""
    chosen = json.loads((ROOT / "data/labelled/splits.json").read_text())["dev"][:count]
    lines = []
    for path in sorted((ROOT / "data/labelled").glob("*.jsonl")):
        lines += [
            line
            for line in path.read_text().splitlines()
            if json.loads(line)["conversation"] in chosen
        ]
    return lines


@dataclass
class HarnessRun:
    out: Path
    history: Path
    lines: int
    output: str
    exit_code: int


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory: pytest.TempPathFactory) -> HarnessRun:
    """One small run with a stand-in classifier and tiny benchmarks made up for the test."""
    base = tmp_path_factory.mktemp("harness")
    data = base / "slice.jsonl"
    lines = _dev_conversations(3)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    intent_bench = base / "intent.jsonl"
    intent_bench.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"x:{n}",
                    "source": source,
                    "text": text,
                    "label": label,
                    "label_space": space,
                }
            )
            for n, (source, space, text, label) in enumerate(
                [
                    ("chat", "3way", "please send me the invoice by friday", "task"),
                    ("chat", "3way", "can we meet tomorrow at 3pm", "event"),
                    ("chat", "3way", "thanks, that was great", "none"),
                    ("mail", "binary", "Please review the attached draft.", "actionable"),
                    ("mail", "binary", "The report is attached.", "none"),
                ]
            )
        )
        + "\n"
    )
    dates_bench = base / "dates.jsonl"
    ref = "2026-03-10T09:00:00+01:00"
    dates_bench.write_text(
        json.dumps(
            {
                "id": "d:1",
                "source": "test",
                "text": "tomorrow at 3pm",
                "ref": ref,
                "expected": {
                    "kind": "instant",
                    "value": "2026-03-11T15:00:00+01:00",
                    "grain": "hour",
                },
            }
        )
        + "\n"
    )
    out, history = base / "out", base / "history.jsonl"
    result = _eval(
        data=data,
        out=out,
        history=history,
        intent=ALWAYS_TASK,
        intent_bench=intent_bench,
        dates_bench=dates_bench,
        resamples=200,
    )
    return HarnessRun(out, history, len(lines), result.output, result.exit_code)


def test_end_to_end_outputs(harness_run: HarnessRun) -> None:
    assert harness_run.exit_code == 0, harness_run.output
    metrics = json.loads((harness_run.out / "metrics.json").read_text())
    assert metrics["run"]["messages"] == harness_run.lines
    assert metrics["run"]["intent_classifier"] == ALWAYS_TASK
    intent = metrics["headline"]["intent_accuracy"]
    assert intent["ci_low"] <= intent["value"] <= intent["ci_high"]
    assert metrics["target"]["status"] in ("MET", "NOT MET")
    assert sum(map(sum, metrics["intent"]["confusion"])) == harness_run.lines
    ood = metrics["ood"]
    assert ood["intent"]["systems"] == ["rules", ALWAYS_TASK]  # baseline first
    assert ood["intent"]["sources"]["mail (binary)"][ALWAYS_TASK]["n"] == 2
    assert ood["dates"]["accuracy"] == 1.0
    predictions = (harness_run.out / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == harness_run.lines
    assert {"gold", "pred", "checks"} <= set(json.loads(predictions[0]))
    assert (harness_run.out / "report.html").read_text().count("data:image/png;base64,") == 4
    summary = (harness_run.out / "summary.md").read_text()
    assert "95% target" in summary and "| rules (acc / macro-F1) |" in summary
    (line,) = harness_run.history.read_text().splitlines()
    assert json.loads(line)["split"] == "file:slice.jsonl"


def test_broken_floors_exit_1_and_missing_benchmarks_are_skipped(
    harness_run: HarnessRun, tmp_path: Path
) -> None:
    floors = tmp_path / "floors.yaml"
    floors.write_text("intent_accuracy: 0.999\npriority_accuracy: 0.0\n")
    missing = tmp_path / "missing.jsonl"
    history = tmp_path / "history.jsonl"
    history.write_text('{"earlier": "run"}\n')
    result = _eval(
        data=harness_run.out.parent / "slice.jsonl",
        out=tmp_path / "out",
        history=history,
        floors=floors,
        intent_bench=missing,
        dates_bench=missing,
        resamples=100,
    )
    assert result.exit_code == 1
    assert "floor broken: intent_accuracy" in result.output
    assert "priority_accuracy" not in result.stderr
    assert "intent benchmark skipped" in result.output
    earlier, latest = history.read_text().splitlines()  # appended, not replaced
    assert json.loads(earlier) == {"earlier": "run"}
    assert json.loads(latest)["intent_classifier"] == "rules"
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["floors"]["broken"][0].startswith("intent_accuracy")
    assert "skipped" in metrics["ood"]["dates"]


def test_notebook_executes_on_the_outputs(
    harness_run: HarnessRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT2TASK_EVAL_DIR", str(harness_run.out))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    printed = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert "intent_accuracy" in printed and "target:" in printed
