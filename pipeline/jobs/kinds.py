"""Every job kind: importing this module registers them all (the worker and the service do).

Job kinds register themselves with ``@job`` when their module is imported; a process that
forgot one would queue jobs no worker can run. The CRM sync is optional (its package may
be absent from a deployment), so it is imported only when present.
"""

from __future__ import annotations

import importlib
import importlib.util

import pipeline.notify.inbound
import pipeline.notify.outbound
import pipeline.notify.reminders  # noqa: F401  (imported for their @job registrations)

if importlib.util.find_spec("pipeline.sync") and importlib.util.find_spec("pipeline.sync.jobs"):
    importlib.import_module("pipeline.sync.jobs")
