"""Readers that turn an outside chat format into :class:`pipeline.domain.Message` records."""
