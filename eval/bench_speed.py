"""Speed benchmark: model load, batch throughput, single-message latency, peak memory.

    python -m eval.bench_speed [--messages 50000] [--out eval/reports]

The bundled sample chat is repeated (each copy shifted by whole weeks, with fresh ids)
until it holds ``--messages`` messages, so the mix of chit-chat and work is the
sample's own. Figures go to ``speed.json`` and ``speed.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline.config import load_settings
from pipeline.domain import Message
from pipeline.extract import Extractor
from pipeline.sources.whatsapp import parse_export
from pipeline.storage import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "WhatsApp Chat with Northwind Sales.txt"
CONFIG = ROOT / "data" / "config.example.yaml"


def scaled(messages: list[Message], total: int) -> list[Message]:
    """The sample repeated to ``total`` messages; copy *n* is shifted by *n* × 8 weeks."""
    out: list[Message] = []
    copy = 0
    while len(out) < total:
        shift = timedelta(weeks=8 * copy)
        for message in messages:
            if len(out) == total:
                break
            out.append(replace(message, id=f"{message.id}:{copy}", sent_at=message.sent_at + shift))
        copy += 1
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(total: int) -> dict[str, Any]:
    settings = load_settings(CONFIG)
    started = time.perf_counter()
    extractor = Extractor(settings)
    load_seconds = time.perf_counter() - started

    sample = parse_export(SAMPLE, tz=settings.timezone).messages
    list(extractor.extract_many(sample[:50]))  # warm-up: first calls allocate spaCy's buffers

    latencies = []
    for message in sample * 3:
        tick = time.perf_counter()
        extractor.extract(message)
        latencies.append((time.perf_counter() - tick) * 1000)

    messages = scaled(sample, total)
    tick = time.perf_counter()
    items = sum(len(found) for _, found in extractor.extract_many(messages))
    extract_seconds = time.perf_counter() - tick
    candidates = sum(extractor.could_hold_work(m) for m in sample)

    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{folder}/bench.db")
        tick = time.perf_counter()
        results = extractor.extract_many(messages)
        batch: list[tuple[Message, list[Any]]] = []
        for pair in results:
            batch.append(pair)
            if len(batch) == 500:
                store.ingest(batch, extractor_version=extractor.version)
                batch = []
        if batch:
            store.ingest(batch, extractor_version=extractor.version)
        import_seconds = time.perf_counter() - tick

    return {
        "messages": total,
        "items": items,
        "candidate_share": round(candidates / len(sample), 3),
        "model_load_s": round(load_seconds, 2),
        "batch_extract_msgs_per_s": round(total / extract_seconds),
        "batch_import_sqlite_msgs_per_s": round(total / import_seconds),
        "single_latency_ms": {
            "p50": round(percentile(latencies, 50), 2),
            "p99": round(percentile(latencies, 99), 2),
            "max": round(max(latencies), 2),
            "mean": round(statistics.fmean(latencies), 2),
            "n": len(latencies),
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
    }


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def write_reports(figures: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    latency = figures["single_latency_ms"]
    lines = [
        "# Speed",
        "",
        f"Measured with `python -m eval.bench_speed --messages {figures['messages']}` on "
        f"{figures['machine']}.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| batch extraction ({figures['messages']:,} messages, one process) | "
        f"{figures['batch_extract_msgs_per_s']:,} messages/s |",
        f"| batch extraction + SQLite storage | "
        f"{figures['batch_import_sqlite_msgs_per_s']:,} messages/s |",
        f"| single message latency p50 / p99 / max | {latency['p50']} / {latency['p99']} / "
        f"{latency['max']} ms (n = {latency['n']}) |",
        f"| model load (spaCy + roster + classifiers) | {figures['model_load_s']} s |",
        f"| peak RSS | {figures['peak_rss_mb']} MB |",
        f"| messages that reach spaCy (first pass) | {figures['candidate_share']:.0%} |",
        "",
    ]
    (out / "speed.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports")
    args = parser.parse_args()
    figures = run(args.messages)
    write_reports(figures, args.out)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
