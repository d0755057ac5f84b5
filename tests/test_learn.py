"""The trained classifiers: deterministic training, skops round trip, registry, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from spacy.language import Language
from typer.testing import CliRunner

from pipeline.config import Settings
from pipeline.errors import ModelNotFoundError
from pipeline.extract import Extractor
from pipeline.extract.classify import get_intent_classifier, get_priority_classifier
from pipeline.learn.classifier import SklearnClassifier, save_model
from pipeline.learn.commands import register
from pipeline.learn.data import load_dataset
from pipeline.learn.train import Example, build_examples, clause_predictions, fit_model
from tests.conftest import MessageFactory

DATA = Path(__file__).resolve().parents[1] / "data" / "labelled"
PARAMS = {
    "unit": "clause",
    "char_ngrams": True,
    "message_text": True,
    "C": 4.0,
    "class_weight": "balanced",
}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few conversations of the real set per split (every priority among train's)."""
    dataset = load_dataset(DATA)
    train = sorted(dataset.splits["train"])
    urgent = sorted(
        {m.conversation for m in dataset.messages if m.priority == "urgent"} & set(train)
    )
    chosen = {
        "train": sorted({*train[:6], *urgent[:3]}),
        "dev": sorted(dataset.splits["dev"])[:2],
        "test": sorted(dataset.splits["test"])[:2],
    }
    keep = {c for ids in chosen.values() for c in ids}
    directory = tmp_path_factory.mktemp("labelled")
    with (directory / "small.jsonl").open("w", encoding="utf-8") as out:
        for path in sorted(DATA.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if json.loads(line)["conversation"] in keep:
                    out.write(line + "\n")
    (directory / "splits.json").write_text(json.dumps(chosen), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def examples(small_data: Path, settings: Settings, extractor: Extractor) -> list[Example]:
    dataset = load_dataset(small_data)
    return build_examples(settings, dataset.split("train"), extractor.nlp)


@pytest.fixture(scope="module")
def models_dir(
    small_data: Path, tmp_path_factory: pytest.TempPathFactory, extractor: Extractor
) -> Path:
    """Models trained by the CLI on the small set, shared by the tests that load them."""
    out = tmp_path_factory.mktemp("models")
    app = typer.Typer()
    register(app)
    app.command()(lambda: None)  # a second command, so "train" stays a subcommand
    result = CliRunner().invoke(app, ["train", "--data", str(small_data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "intent" in result.output and "priority" in result.output
    return out


def test_training_is_deterministic(examples: list[Example]) -> None:
    first = fit_model("intent", PARAMS, examples)
    second = fit_model("intent", PARAMS, examples)
    assert clause_predictions(first, examples) == clause_predictions(second, examples)
    assert (first.predict_proba(examples[0].rows) == second.predict_proba(examples[0].rows)).all()


def test_saved_model_round_trips_through_skops(examples: list[Example], tmp_path: Path) -> None:
    model = fit_model("priority", PARAMS, examples)
    save_model(model, tmp_path, {"model": "priority"})
    loaded = SklearnClassifier.load(tmp_path)
    assert clause_predictions(loaded.model, examples) == clause_predictions(model, examples)
    rows = examples[0].rows
    assert (loaded.model.predict_proba(rows) == model.predict_proba(rows)).all()


def test_cli_writes_artifacts_and_cards(models_dir: Path) -> None:
    for kind in ("intent", "priority"):
        assert {p.name for p in (models_dir / kind).iterdir()} == {
            "model.skops",
            "meta.json",
            "card.md",
        }
        card = (models_dir / kind / "card.md").read_text(encoding="utf-8")
        assert "sha256" in card and "CV macro-F1" in card and "rules" in card
        assert json.loads((models_dir / kind / "meta.json").read_text())["model"] == kind


def test_registry_builds_the_sklearn_classifiers_for_the_extractor(
    models_dir: Path, settings: Settings, extractor: Extractor, message: MessageFactory
) -> None:
    trained = settings.model_copy(
        update={
            "intent_classifier": "sklearn",
            "priority_classifier": "sklearn",
            "models_dir": models_dir,
        }
    )
    intent = get_intent_classifier(trained)
    assert isinstance(intent, SklearnClassifier)
    assert set(intent.labels) <= {"task", "event", "none"}
    assert isinstance(get_priority_classifier(trained), SklearnClassifier)

    nlp: Language = extractor.nlp
    sklearn_extractor = Extractor(trained, roster=extractor.roster, nlp=nlp)
    assert isinstance(sklearn_extractor.intent, SklearnClassifier)
    results = dict(
        sklearn_extractor.extract_many(
            [message("John, can you send the Q3 report to Acme by Friday?"), message("ok 👍")]
        )
    )
    items = [item for found in results.values() for item in found]
    for item in items:
        assert 0.0 < item.confidence <= 1.0
    assert sklearn_extractor.version.endswith("intent.sklearn.priority.sklearn")


def test_missing_model_raises_model_not_found(settings: Settings, tmp_path: Path) -> None:
    missing = settings.model_copy(update={"intent_classifier": "sklearn", "models_dir": tmp_path})
    with pytest.raises(ModelNotFoundError, match="run `chat2task train`"):
        get_intent_classifier(missing)
