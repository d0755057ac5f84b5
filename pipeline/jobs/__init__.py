"""Background jobs: one queue interface (:mod:`.queue`) over Huey's SQLite and Redis back ends."""

from pipeline.jobs.queue import JOB_KINDS, JobContext, JobQueue, backoff_seconds, job

__all__ = ["JOB_KINDS", "JobContext", "JobQueue", "backoff_seconds", "job"]
