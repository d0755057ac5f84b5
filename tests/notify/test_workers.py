"""Real ``chat2task worker`` processes: killed mid-run (kill -9) on the embedded SQLite queue
and on Redis, a new worker finishes the work exactly once.

The Redis variant uses the ``redis_url`` fixture (tests/notify/conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from pipeline.config import QueueSettings, Settings
from pipeline.domain import Message
from pipeline.jobs.queue import JobContext, JobQueue
from pipeline.notify.outbound import list_outbound
from pipeline.storage import Store
from pipeline.storage.tables import messages
from tests.conftest import MONDAY_10AM
from tests.fakes.twilio import FakeTwilio

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 80
SENDERS = ("+447700900101", "+447700900102", "+447700900103", "+15555550104")


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def queue_url(request: pytest.FixtureRequest) -> str:
    return "" if request.param == "sqlite" else str(request.getfixturevalue("redis_url"))


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    fake_twilio: FakeTwilio,
    queue_url: str,
) -> None:
    settings = make_settings(queue=QueueSettings(url=queue_url), quiet_hours=None, send_rate=1000)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(_config(settings)), encoding="utf-8")
    with Store.open(settings.database_url) as store:
        _queue_inbound(store, settings)

        worker = _start_worker(config, tmp_path / "worker-1.log")
        _wait(lambda: _extracted(store) >= 5, worker, "the first worker to start working")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert _extracted(store) < MESSAGES, "the worker finished before it was killed"

        worker = _start_worker(config, tmp_path / "worker-2.log")
        try:
            _wait(lambda: _settled(store), worker, "the second worker to finish")
        finally:
            worker.terminate()
            worker.wait(timeout=30)

        replies = list_outbound(store, "default")
        items = store.list_items(limit=MESSAGES * 2)
    assert len(items) == MESSAGES
    assert sorted(item.title for item in items) == sorted(_title(i) for i in range(MESSAGES))
    assert len(replies) == MESSAGES
    assert len({reply.in_reply_to for reply in replies}) == MESSAGES
    bodies = [form["Body"] for form in fake_twilio.sent]
    assert not [body for body, count in Counter(bodies).items() if count > 1]
    # A worker killed between the provider's answer and our update leaves its row in
    # "sending" until the lease ends (at-least-once); every other row went out once.
    statuses = Counter(reply.status for reply in replies)
    assert set(statuses) <= {"queued", "sending"} and statuses["sending"] <= 2
    assert statuses["queued"] <= len(bodies) <= MESSAGES


def _config(settings: Settings) -> dict[str, object]:
    data = settings.model_dump(mode="json", exclude={"models_dir", "due_policy"})
    data["service"]["twilio"]["auth_token"] = settings.service.twilio.auth_token.get_secret_value()
    for secret in ("access_token", "app_secret", "verify_token"):
        data["service"]["meta"][secret] = ""
    return data


def _title(index: int) -> str:
    return f"Send invoice {index} to Acme"


def _queue_inbound(store: Store, settings: Settings) -> None:
    """What the webhooks do: store each message, submit one job for it."""
    queue = JobQueue(JobContext(settings, store))
    for index in range(MESSAGES):
        message = Message(
            id=f"SM{index:032d}",
            chat=SENDERS[index % len(SENDERS)],
            author=None,
            sent_at=MONDAY_10AM,
            text=f"Please send invoice {index} to Acme by Friday",
            source="twilio",
        )
        [row_id] = store.save_messages([message]).ids.values()
        queue.submit("inbound", {"message_ids": [row_id], "channel": "twilio"}, tenant="default")


def _start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT2TASK_")}
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "worker", "--config", str(config), "--workers", "2"],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _wait(done: Callable[[], bool], worker: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not done():
        assert worker.poll() is None, f"the worker exited ({worker.returncode}) waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _extracted(store: Store) -> int:
    with store.transaction() as conn:
        return int(
            conn.execute(
                select(func.count()).where(messages.c.extracted_at.is_not(None))
            ).scalar_one()
        )


def _settled(store: Store) -> bool:
    if _extracted(store) < MESSAGES:
        return False
    replies = list_outbound(store, "default")
    return len(replies) == MESSAGES and all(r.status in ("queued", "sending") for r in replies)
