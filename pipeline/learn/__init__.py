"""Trained intent and priority classifiers (scikit-learn), registered as ``"sklearn"``.

Importing this package registers them; the ``chat2task_intent_classifiers`` and
``chat2task_priority_classifiers`` entry points in ``pyproject.toml`` do the same for an
installed package, so the registries find them without this import.
"""

from pipeline.learn.classifier import SklearnClassifier

__all__ = ["SklearnClassifier"]
