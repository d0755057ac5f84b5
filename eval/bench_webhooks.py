"""Webhook load benchmark: sustained signed Twilio deliveries against ``chat2task serve``.

    python -m eval.bench_webhooks [--clients 32] [--duration 20] [--warmup 3] [--workers 0]
                                  [--rate 0 300]   # one run per rate, 0 = saturation

Starts the service in a subprocess on loopback (embedded SQLite database and queue in a
temporary folder, JSON logs at INFO to a file, as in production), then ``--clients``
concurrent aiohttp clients post signed inbound-message webhooks, each with a new
``MessageSid``, for ``--duration`` seconds. Requests finishing in the first ``--warmup``
seconds are not counted. At rate 0 every client sends its next request as soon as the last
is answered (saturation: the highest sustained rate, latency then mostly queueing); at
rate R the clients together send R requests per second on a fixed, staggered schedule
(latency at that load). Reports sustained requests/s and acknowledgement latency
(p50/p99/max) per run, checks that every acknowledged message is in the database, and
writes ``webhooks.json`` and ``webhooks.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from twilio.request_validator import RequestValidator

from eval.bench_speed import percentile

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench_auth_token"
#: Message ids unique across clients and runs: every delivery is a new message.
_SIDS = itertools.count(1)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    #: Every 200, warm-up included: each must be a stored message.
    acknowledged: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_service(folder: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    config = folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{folder / 'chat2task.db'}",
                "service": {"twilio": {"auth_token": TOKEN}},
                "queue": {"workers": workers},
            }
        )
    )
    log = (folder / "service.log").open("wb")
    command = [sys.executable, "-m", "pipeline", "serve", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("the service exited; see service.log")
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the service did not become healthy")


async def client(
    number: int,
    clients: int,
    url: str,
    counted_from: float,
    ends: float,
    interval: float,
    tally: Tally,
) -> None:
    validator = RequestValidator(TOKEN)
    target = f"{url}/webhooks/twilio"
    sent = 0
    # Clients are staggered across one interval, so the load is smooth rather than bursts.
    begins = time.perf_counter() + interval * number / clients
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < ends:
            if interval:
                await asyncio.sleep(max(0.0, begins + sent * interval - time.perf_counter()))
            sent += 1
            params = {
                "MessageSid": f"SM{next(_SIDS):032d}",
                "AccountSid": "AC" + "0" * 32,
                "From": f"whatsapp:+4477009{number:05d}",
                "To": "whatsapp:+14155238886",
                "Body": "Priya, please send the Acme contract by Friday",
                "NumMedia": "0",
                "ProfileName": f"Client {number}",
            }
            headers = {"X-Twilio-Signature": validator.compute_signature(target, params)}
            started = time.perf_counter()
            try:
                async with session.post(target, data=params, headers=headers) as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError:
                tally.errors += 1
                continue
            finished = time.perf_counter()
            tally.acknowledged += status == 200
            if started >= counted_from:
                tally.latencies.append(finished - started)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1


async def load(
    url: str, clients: int, duration: float, warmup: float, rate: float
) -> tuple[Tally, float]:
    tally = Tally()
    begins = time.perf_counter()
    counted_from, ends = begins + warmup, begins + warmup + duration
    interval = clients / rate if rate else 0.0
    await asyncio.gather(
        *(client(n, clients, url, counted_from, ends, interval, tally) for n in range(clients))
    )
    return tally, time.perf_counter() - counted_from


def stored_messages(folder: Path) -> int:
    with sqlite3.connect(folder / "chat2task.db") as conn:
        count: int = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        return count


def run_result(rate: float, tally: Tally, elapsed: float) -> dict[str, Any]:
    ms = sorted(latency * 1000 for latency in tally.latencies)
    return {
        "mode": f"fixed rate {rate:g}/s" if rate else "saturation",
        "duration_s": round(elapsed, 2),
        "requests": len(ms),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "client_errors": tally.errors,
        "requests_per_s": round(len(ms) / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(ms, 50), 2),
            "p99": round(percentile(ms, 99), 2),
            "max": round(ms[-1], 2) if ms else None,
        },
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        f"| {run['mode']} | {result['clients']} | {result['workers']} | {run['requests_per_s']} "
        f"| {run['latency_ms']['p50']} | {run['latency_ms']['p99']} | {run['latency_ms']['max']} "
        f"| {run['statuses']} | {run['client_errors']} |"
        for run in result["runs"]
    ]
    return "\n".join(
        [
            "# Webhook load (signed Twilio inbound messages)",
            "",
            f"`{result['command']}` on {result['machine']['cpus']} CPUs, "
            f"Python {result['machine']['python']}; client and service share the machine.",
            "",
            "| mode | clients | workers | req/s | p50 ms | p99 ms | max ms | statuses | errors |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Acknowledged (warm-ups included): {result['acknowledged']}; stored in the database: "
            f"{result['stored_messages']}. Goal: ≥ 300 req/s with p99 ≤ 50 ms.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=0, help="embedded job workers")
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[0.0, 300.0],
        help="total req/s per run; 0: saturate",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="c2t-bench-") as tmp:
        folder, port = Path(tmp), free_port()
        process = start_service(folder, port, args.workers)
        try:
            url = f"http://127.0.0.1:{port}"
            asyncio.run(wait_healthy(url, process))
            runs = []
            for rate in args.rate:
                tally, elapsed = asyncio.run(
                    load(url, args.clients, args.duration, args.warmup, rate)
                )
                runs.append((rate, tally, elapsed))
        finally:
            process.terminate()
            process.wait(timeout=30)
        stored = stored_messages(folder)
    result = {
        "command": "python -m eval.bench_webhooks "
        f"--clients {args.clients} --duration {args.duration:g} --warmup {args.warmup:g} "
        f"--workers {args.workers} --rate {' '.join(f'{r:g}' for r in args.rate)}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "clients": args.clients,
        "workers": args.workers,
        "runs": [run_result(rate, tally, elapsed) for rate, tally, elapsed in runs],
        "acknowledged": sum(tally.acknowledged for _, tally, _ in runs),
        "stored_messages": stored,
        "goal": {"requests_per_s": 300, "p99_ms": 50},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "webhooks.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "webhooks.md").write_text(markdown(result))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
