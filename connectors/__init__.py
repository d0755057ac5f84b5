"""Connectors: push items to CRMs and calendars behind one small interface (:mod:`.base`)."""
