"""``SklearnClassifier``: a trained model behind the :class:`Classifier` seam.

Registered as ``"sklearn"`` in both classifier registries; the factories load
``<models_dir>/intent`` and ``<models_dir>/priority``. Models are stored with skops and
loaded against an explicit list of trusted types, so a tampered file cannot run code.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import skops.io as sio
from sklearn.pipeline import Pipeline

from pipeline.errors import ConfigError, ModelNotFoundError
from pipeline.extract import Clause, Prediction
from pipeline.learn.features import clause_rows
from pipeline.registry import intent_classifiers, priority_classifiers

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.extract import Classifier

MODEL_FILE = "model.skops"
META_FILE = "meta.json"
# Everything a saved model may hold beyond what skops trusts by default: the stock
# scikit-learn parts that :func:`pipeline.learn.features.make_features` and the
# training code put together, and nothing of ours.
TRUSTED_TYPES = [
    "numpy.dtype",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "numpy.str_",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction._dict_vectorizer.DictVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.utils._bunch.Bunch",
]


class SklearnClassifier:
    """Labels clauses with a fitted scikit-learn pipeline over
    :func:`~pipeline.learn.features.clause_rows`; confidence is the model's probability
    of the label it picks."""

    def __init__(self, model: Pipeline) -> None:
        self.model = model
        self.labels: tuple[str, ...] = tuple(str(c) for c in model.classes_)

    def predict(self, clauses: Sequence[Clause]) -> list[Prediction]:
        if not clauses:
            return []
        probabilities = self.model.predict_proba(clause_rows(clauses))
        best = probabilities.argmax(axis=1)
        return [
            Prediction(self.labels[j], float(row[j]))
            for row, j in zip(probabilities, best, strict=True)
        ]

    @classmethod
    def load(cls, directory: Path) -> SklearnClassifier:
        path = directory / MODEL_FILE
        if not path.is_file():
            raise ModelNotFoundError(
                f"no trained model at {path}: run `chat2task train` "
                "(or set models_dir / CHAT2TASK_MODELS_DIR to where the models are)"
            )
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
        if untrusted:
            raise ConfigError(
                f"{path} holds types that are not trusted ({', '.join(untrusted)}): "
                "retrain it with `chat2task train`"
            )
        model = sio.load(path, trusted=TRUSTED_TYPES)
        if not isinstance(model, Pipeline):
            raise ConfigError(f"{path} does not hold a scikit-learn pipeline")
        return cls(model)


def save_model(model: Pipeline, directory: Path, meta: dict[str, Any]) -> None:
    """Write ``model.skops`` and ``meta.json``; fails if the model holds a type that
    :data:`TRUSTED_TYPES` would refuse at load time."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILE
    sio.dump(model, path, compression=zipfile.ZIP_DEFLATED)  # vocabularies compress well
    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
    if untrusted:
        path.unlink()
        raise ConfigError(f"the model holds types not in TRUSTED_TYPES: {', '.join(untrusted)}")
    (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


@intent_classifiers.register("sklearn")
def make_intent(settings: Settings) -> Classifier:
    return SklearnClassifier.load(settings.models_dir / "intent")


@priority_classifiers.register("sklearn")
def make_priority(settings: Settings) -> Classifier:
    return SklearnClassifier.load(settings.models_dir / "priority")
