"""``chat2task keys`` and ``chat2task serve`` from the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.storage import Store
from pipeline.storage.api_keys import authenticate

ROOT = Path(__file__).resolve().parents[2]


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    url = f"sqlite:///{tmp_path / 'chat2task.db'}"
    config.write_text(yaml.safe_dump({"database_url": url}))
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--tenant",
            "acme",
            "--role",
            "agent",
            "--person",
            "John Smith",
            "--config",
            str(config),
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    with Store.open(url) as store:
        key = authenticate(store, secret)
    assert key is not None and (key.tenant, key.role, key.person) == ("acme", "agent", "John Smith")
    listed = runner.invoke(app, ["keys", "list", "--config", str(config)])
    assert key.prefix in listed.stdout and secret not in listed.stdout
    assert (
        runner.invoke(app, ["keys", "revoke", str(key.id), "--config", str(config)]).exit_code == 0
    )
    with Store.open(url) as store:
        assert authenticate(store, secret) is None


def test_serve_answers_healthz_with_secrets_from_the_environment(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"database_url": f"sqlite:///{tmp_path / 'chat2task.db'}", "queue": {"workers": 1}}
        )
    )
    env = {**os.environ, "CHAT2TASK_META_VERIFY_TOKEN": "from-env"}
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        query = "hub.mode=subscribe&hub.verify_token=from-env&hub.challenge=42"
        with urllib.request.urlopen(f"{base}/webhooks/meta?{query}", timeout=2) as response:
            assert response.read() == b"42"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b'"logger": "aiohttp.access"' in stderr  # structured JSON access log
