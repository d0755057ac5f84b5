"""Score the WhatsApp export parser against the external corpus' manifest, field by field.

    python -m eval.score_exports [--manifest PATH] [--out eval/reports/exports.md]

Comparison follows the manifest's ``conventions``: timestamps are naive local ISO times,
first/last are in file order, texts and authors are compared after NFKC, with format
characters (bidi marks, BOM) removed and whitespace runs collapsed, and ``*_alternatives``
/ ``authors_optional`` list other accepted answers. The tests import this module, so the
test suite and the report judge the parser the same way.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.domain import Message
from pipeline.errors import Chat2TaskError
from pipeline.sources.whatsapp import ParsedExport, parse_export

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared/benchmarks/whatsapp-exports"
DEFAULT_MANIFEST = CORPUS / "MANIFEST.json"
DEFAULT_OUT = REPO / "eval/reports/exports.md"
_ENDS = ("first", "last")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FieldScore:
    name: str
    ok: bool
    got: Any
    want: Any


@dataclass(frozen=True, slots=True)
class FileScore:
    file: str
    fields: list[FieldScore]
    date_order: str
    expected_order: str
    messages: int
    seconds: float

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.fields)

    def failures(self) -> list[FieldScore]:
        return [f for f in self.fields if not f.ok]


def load_manifest(path: Path) -> list[dict[str, Any]]:
    """The manifest's per-file entries."""
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["files"]
    return entries


def normalize(text: str | None) -> str | None:
    """The manifest's text comparison: NFKC, no format characters, whitespace collapsed."""
    if text is None:
        return None
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _WHITESPACE.sub(" ", text).strip()


def score_file(entry: dict[str, Any], folder: Path) -> FileScore:
    """Parse one manifest file and compare every expected field."""
    started = time.perf_counter()
    try:
        parsed: ParsedExport | str = parse_export(folder / entry["file"])
    except Chat2TaskError as exc:
        parsed = f"error: {exc}"
    seconds = time.perf_counter() - started
    expected = entry["expected"]
    if isinstance(parsed, str):
        fields = [FieldScore(name, False, parsed, expected.get(name)) for name in _field_names()]
        return FileScore(entry["file"], fields, "-", entry["date_order"], 0, seconds)
    messages = parsed.messages
    fields = [
        _one_of("message_count", len(messages), [expected["message_count"]]),
        _one_of(
            "user_message_count",
            sum(1 for m in messages if m.author is not None),
            [expected["user_message_count"], *expected.get("user_message_count_alternatives", [])],
        ),
        _authors(messages, expected),
    ]
    if messages:
        for end, message in zip(_ENDS, (messages[0], messages[-1]), strict=True):
            fields += _end_fields(end, message, expected[end])
    return FileScore(
        entry["file"],
        fields,
        str(parsed.date_order) + ("?" if parsed.date_order_ambiguous else ""),
        entry["date_order"].replace("/", "") + ("?" if entry["date_order_ambiguous"] else ""),
        len(messages),
        seconds,
    )


def _field_names() -> list[str]:
    ends = [f"{end}.{part}" for end in _ENDS for part in ("timestamp", "author", "text")]
    return ["message_count", "user_message_count", "authors", *ends]


def _one_of(name: str, got: Any, accepted: list[Any]) -> FieldScore:
    return FieldScore(name, got in accepted, got, accepted[0] if len(accepted) == 1 else accepted)


def _authors(messages: Sequence[Message], expected: dict[str, Any]) -> FieldScore:
    got = {normalize(m.author) for m in messages if m.author is not None}
    allowed = {normalize(a) for a in expected["authors"]}
    required = allowed - {normalize(a) for a in expected.get("authors_optional", [])}
    return FieldScore("authors", required <= got <= allowed, sorted(got), sorted(allowed))


def _end_fields(end: str, message: Message, want: dict[str, Any]) -> list[FieldScore]:
    got = {
        "timestamp": message.sent_at.replace(tzinfo=None).isoformat(timespec="seconds"),
        "author": normalize(message.author),
        "text": normalize(message.text),
    }
    scores = []
    for part, value in got.items():
        accepted = [want[part], *want.get(f"{part}_alternatives", [])]
        if part != "timestamp":
            accepted = [normalize(a) for a in accepted]
        scores.append(_one_of(f"{end}.{part}", value, accepted))
    return scores


def render_markdown(scores: list[FileScore], manifest: Path) -> str:
    """The report: one row per file, then every failing field with what was expected."""
    correct = sum(s.ok for s in scores)
    fields = [f for s in scores for f in s.fields]
    messages = sum(s.messages for s in scores)
    seconds = sum(s.seconds for s in scores)
    lines = [
        "# WhatsApp export parser — manifest score",
        "",
        f"Manifest: `{_display(manifest)}`. Reproduce with `python -m eval.score_exports`.",
        "",
        f"**{correct}/{len(scores)} files fully correct**, "
        f"{sum(f.ok for f in fields)}/{len(fields)} fields. "
        f"{messages} messages parsed in {seconds * 1000:.0f} ms end to end "
        f"(read, decode, parse; {messages / seconds if seconds else 0:,.0f} msg/s).",
        "",
        "Order is informational (`?` = ambiguous): when every date has day == month both "
        "readings give the same timestamps, and the timestamp fields already judge the order.",
        "",
        "| File | Messages | Fields OK | Order (got / manifest) | Result |",
        "|---|---:|---:|---|---|",
    ]
    for s in scores:
        ok_fields = sum(f.ok for f in s.fields)
        result = "✓" if s.ok else "✗ " + ", ".join(f.name for f in s.failures())
        lines.append(
            f"| `{s.file}` | {s.messages} | {ok_fields}/{len(s.fields)} | "
            f"{s.date_order} / {s.expected_order} | {result} |"
        )
    failures = [(s.file, f) for s in scores for f in s.failures()]
    if failures:
        lines += ["", "## Failing fields", ""]
        lines += [
            f"- `{file}` {f.name}: got `{f.got!r}`, want `{f.want!r}`" for file, f in failures
        ]
    return "\n".join(lines) + "\n"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO.parent))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    scores = [score_file(entry, args.manifest.parent) for entry in load_manifest(args.manifest)]
    report = render_markdown(scores, args.manifest)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0 if all(s.ok for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
