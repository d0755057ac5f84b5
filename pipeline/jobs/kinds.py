"""Every job kind: importing this module registers them all (the worker and the service do).

Job kinds register themselves with ``@job`` when their module is imported; a process that
forgot one would queue jobs no worker can run.
"""

from __future__ import annotations

import pipeline.notify.inbound
import pipeline.notify.outbound
import pipeline.notify.reminders
import pipeline.sync.jobs  # noqa: F401  (imported for their @job registrations)
