"""The ``chat2task`` command as a user runs it: a real process, real files, real SQLite."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import icalendar
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EXPORT = """\
23/11/2026, 09:00 - Messages and calls are end-to-end encrypted. Tap to learn more.
23/11/2026, 09:01 - Sarah Cole: Morning all ☀️
23/11/2026, 09:02 - Sarah Cole: John, can you send the Q3 report to Acme by Friday?
23/11/2026, 09:05 - John Smith: will do 👍
23/11/2026, 09:07 - Priya Shah: Let's do the pipeline review Tuesday at 2 PM
23/11/2026, 09:08 - Priya Shah: <Media omitted>
23/11/2026, 09:10 - Sarah Cole: URGENT: Globex invoice is wrong,
fix it asap pls
"""


def run(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        cwd=env["HOME"],
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path, team_file: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAT2TASK_")}
    clean.update(
        HOME=str(tmp_path),
        PYTHONPATH=str(ROOT),
        CHAT2TASK_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        CHAT2TASK_TEAM_FILE=str(team_file),
        CHAT2TASK_TIMEZONE="Europe/London",
        COLUMNS="200",  # wide enough that the table does not fold titles
    )
    return clean


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "WhatsApp Chat with Northwind.txt"
    path.write_text(SAMPLE_EXPORT, encoding="utf-8")
    return path


def test_extract_one_message_as_json(env: dict[str, str]) -> None:
    result = run(
        "extract",
        "John, can you send the Q3 report to Acme by Friday?",
        "--at",
        "2026-11-23T10:00:00",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout)["items"]
    assert item["title"] == "Send Q3 report to Acme"
    assert item["due"] == "2026-11-27T00:00:00+00:00"
    assert item["assignee"] == "John Smith"


def test_extract_batch_reads_and_writes_jsonl(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [
        {"id": "a", "text": "ok thanks"},
        {
            "id": "b",
            "text": "meeting with Globex Friday 3pm",
            "at": "2026-11-23T10:00:00+01:00",
            "tz": "Europe/Berlin",
        },
        {"text": "@Priya please update the deck tomorrow", "at": "2026-11-23T10:00:00Z"},
    ]
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    result = run("extract", "--input", str(source), "--output", str(target), env=env)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "3"]
    assert out[0]["items"] == []
    assert out[1]["items"][0]["type"] == "event"
    assert out[1]["items"][0]["start"] == "2026-11-27T15:00:00+01:00"
    assert out[2]["items"][0]["assignee"] == "Priya Shah"


def test_bad_batch_line_names_file_and_line_and_writes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "send it"}\n{"text": "x", "at": "yesterday-ish"}\n', "utf-8")
    target = tmp_path / "out.jsonl"
    result = run("extract", "--input", str(source), "--output", str(target), env=env)
    assert result.returncode == 1
    assert f"{source}:2" in result.stderr
    assert "ISO 8601" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()
    assert list(tmp_path.glob(".out.jsonl.*")) == []


def test_dates_command(env: dict[str, str]) -> None:
    result = run(
        "dates", "call me tomorrow at 3pm", "--at", "2026-11-23T10:00:00", "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    (mention,) = json.loads(result.stdout)["mentions"]
    assert mention["kind"] == "instant"
    assert mention["value"] == "2026-11-24T15:00:00+00:00"
    assert mention["grain"] in ("hour", "minute")


def test_parse_export_jsonl(env: dict[str, str], export: Path) -> None:
    result = run("parse-export", str(export), "--jsonl", env=env)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 7
    assert rows[0] == {
        "timestamp": "2026-11-23T09:00:00",
        "sent_at": "2026-11-23T09:00:00+00:00",
        "author": None,
        "text": "Messages and calls are end-to-end encrypted. Tap to learn more.",
        "kind": "system",
        "line": 1,
    }
    assert rows[5]["kind"] == "media"
    assert rows[6]["text"] == "URGENT: Globex invoice is wrong,\nfix it asap pls"


def test_import_is_idempotent_and_lists_in_every_format(env: dict[str, str], export: Path) -> None:
    first = run("import", str(export), env=env)
    assert first.returncode == 0, first.stderr
    assert "7 (7 new)" in first.stdout
    second = run("import", str(export), env=env)
    assert second.returncode == 0, second.stderr
    assert "7 (0 new)" in second.stdout
    assert "0 new, 0 updated, 0 removed" in second.stdout

    tasks = json.loads(run("tasks", "--format", "json", env=env).stdout)
    assert len(tasks) == 2
    assert "Send Q3 report to Acme" in {t["title"] for t in tasks}
    assert {t["priority"] for t in tasks} == {"high", "urgent"}
    events = json.loads(run("events", "--format", "json", env=env).stdout)
    assert [e["title"] for e in events] == ["Pipeline review"]

    rows = list(csv.DictReader(io.StringIO(run("tasks", "--format", "csv", env=env).stdout)))
    assert len(rows) == 2 and rows[0]["type"] == "task"
    urgent = run("tasks", "--priority", "urgent", "--format", "json", env=env)
    assert [t["priority"] for t in json.loads(urgent.stdout)] == ["urgent"]

    calendar = icalendar.Calendar.from_ical(run("events", "--format", "ics", env=env).stdout)
    (event,) = calendar.walk("VEVENT")
    assert str(event["summary"]) == "Pipeline review"
    assert event["dtstart"].dt.hour == 14
    table = run("tasks", env=env)
    assert "Send Q3 report to Acme" in table.stdout


def test_broken_export_fails_with_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "notes.txt"
    broken.write_text("just some notes\nnot a chat at all\n", encoding="utf-8")
    result = run("import", str(broken), env=env)
    assert result.returncode == 1
    assert "C2T101" in result.stderr and "notes.txt" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cli.db").exists()  # parsing fails before anything is stored


def test_unknown_timezone_is_a_clean_error(env: dict[str, str]) -> None:
    result = run("dates", "tomorrow", "--tz", "Mars/Olympus", env=env)
    assert result.returncode == 1
    assert "timezone" in result.stderr and "Traceback" not in result.stderr
