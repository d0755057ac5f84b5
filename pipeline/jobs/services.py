"""Expensive objects shared by the jobs and the API of one process, built on first use."""

from __future__ import annotations

from pipeline.extract.extractor import Extractor
from pipeline.jobs.queue import JobContext


def extractor(context: JobContext) -> Extractor:
    """The process's extractor (spaCy pipeline, classifiers, roster): loaded once, ~1 s."""
    built: Extractor = context.service("extractor", lambda: Extractor(context.settings))
    return built
