"""Extraction: clauses, classifiers, assignment, titles and due-date policy."""

from pipeline.extract.classify import Classifier, Clause, Prediction
from pipeline.extract.extractor import Extractor

__all__ = ["Classifier", "Clause", "Extractor", "Prediction"]
