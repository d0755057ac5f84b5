"""Named plug-ins, spaCy-style: the settings pick components by string.

Each registry is also reachable through package entry points (group
``chat2task_<name>``), so a third party can ship a classifier without touching the core.
"""

from __future__ import annotations

import catalogue

intent_classifiers = catalogue.create("chat2task", "intent_classifiers", entry_points=True)
priority_classifiers = catalogue.create("chat2task", "priority_classifiers", entry_points=True)
#: External systems items are pushed to (``chat2task_connectors``): name -> Connector class.
connectors = catalogue.create("chat2task", "connectors", entry_points=True)
