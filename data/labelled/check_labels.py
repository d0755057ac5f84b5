"""Validate the hand-labelled chat set in data/labelled/*.jsonl (see data/LABELING.md).

Usage: python data/labelled/check_labels.py [--quiet] [files...]

Exits 1 when any error is found; prints counts by domain, intent, priority and split.
Standard library only, so it runs anywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
Row = dict[str, Any]
INTENTS = {"task", "event", "none"}
PRIORITIES = {"urgent", "high", "normal"}
GRAINS = {"minute", "hour", "day", "week", "month"}
TOP_KEYS = {
    "id",
    "conversation",
    "domain",
    "participants",
    "at",
    "tz",
    "author",
    "text",
    "intent",
    "priority",
    "items",
}
OPTIONAL_KEYS = {"note"}
ITEM_KEYS = {"type", "title", "assignee", "time_text", "grain"}
TIME_WORDS_IN_TITLE = re.compile(
    r"\b(today|tonight|tomorrow|tmrw|tmr|eod|cob|asap|next week|this week|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
BAD_TITLE_START = re.compile(
    r"^(please|pls|plz|can you|can u|could you|don't forget|dont forget)\b", re.IGNORECASE
)


def parse_aware(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None and dt.utcoffset() is not None else None


def floor_to_grain(dt: datetime, grain: str) -> datetime:
    if grain == "minute":
        return dt.replace(second=0, microsecond=0)
    if grain == "hour":
        return dt.replace(minute=0, second=0, microsecond=0)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise ValueError(grain)


def tz_offset_ok(dt: datetime, tz: ZoneInfo) -> bool:
    return dt.utcoffset() == dt.astimezone(tz).utcoffset()


class Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.rows: list[Row] = []

    def err(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def check_file(self, path: Path) -> None:
        domain_from_name = path.stem
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{lineno}"
            if not line.strip():
                self.err(where, "blank line")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                self.err(where, f"invalid JSON ({e})")
                continue
            if not isinstance(row, dict):
                self.err(where, "line is not an object")
                continue
            row["_where"] = f"{where} [{row.get('id')}]"
            if row.get("domain") != domain_from_name:
                self.err(
                    row["_where"], f"domain {row.get('domain')!r} != file {domain_from_name!r}"
                )
            self.check_row(row)
            self.rows.append(row)

    def check_row(self, row: Row) -> None:
        w = row["_where"]
        keys = set(row) - {"_where"}
        if missing := TOP_KEYS - keys:
            self.err(w, f"missing keys {sorted(missing)}")
            return
        if extra := keys - TOP_KEYS - OPTIONAL_KEYS:
            self.err(w, f"unknown keys {sorted(extra)}")
        for k in ("id", "conversation", "domain", "author", "text", "tz", "intent", "priority"):
            if not isinstance(row[k], str) or not row[k].strip():
                self.err(w, f"{k} must be a non-empty string")
                return
        if not row["conversation"].startswith(row["domain"] + "-c"):
            self.err(w, "conversation id must start with '<domain>-c'")
        if not re.fullmatch(re.escape(row["conversation"]) + r"-\d{2,}", row["id"]):
            self.err(w, "id must be '<conversation>-<NN>'")
        people = row["participants"]
        if (
            not isinstance(people, list)
            or not 2 <= len(people) <= 5
            or len(set(people)) != len(people)
        ):
            self.err(w, "participants must be 2-5 distinct names")
            people = people if isinstance(people, list) else []
        if row["author"] not in people:
            self.err(w, f"author {row['author']!r} not in participants")
        try:
            tz = ZoneInfo(row["tz"])
        except Exception:
            self.err(w, f"unknown tz {row['tz']!r}")
            return
        at = parse_aware(row["at"])
        if at is None:
            self.err(w, "at is not an aware ISO 8601 datetime")
            return
        if not tz_offset_ok(at, tz):
            self.err(w, f"at offset {at.utcoffset()} does not match {row['tz']}")
        row["_at"] = at
        if row["intent"] not in INTENTS:
            self.err(w, f"bad intent {row['intent']!r}")
        if row["priority"] not in PRIORITIES:
            self.err(w, f"bad priority {row['priority']!r}")
        items = row["items"]
        if not isinstance(items, list):
            self.err(w, "items must be a list")
            return
        if row["intent"] == "none":
            if items:
                self.err(w, "intent none but items present")
            if row["priority"] != "normal":
                self.err(w, "intent none must have priority normal")
        elif not items:
            self.err(w, f"intent {row['intent']} but no items")
        elif items[0].get("type") != row["intent"]:
            self.err(w, "intent must equal the type of the first item")
        for i, item in enumerate(items):
            self.check_item(f"{w} item{i}", item, row, people, at, tz)

    def check_item(
        self, w: str, item: Row, row: Row, people: list[str], at: datetime, tz: ZoneInfo
    ) -> None:
        if not isinstance(item, dict):
            self.err(w, "item is not an object")
            return
        typ = item.get("type")
        if typ not in ("task", "event"):
            self.err(w, f"bad item type {typ!r}")
            return
        value_keys = {"due"} if typ == "task" else {"start", "end"}
        keys = set(item)
        if missing := (ITEM_KEYS | ({"due"} if typ == "task" else {"start"})) - keys:
            self.err(w, f"missing item keys {sorted(missing)}")
            return
        if extra := keys - ITEM_KEYS - value_keys:
            self.err(w, f"unknown item keys {sorted(extra)}")
        title = item["title"]
        if not isinstance(title, str) or not title.strip() or title != title.strip():
            self.err(w, "title must be a non-empty trimmed string")
        elif BAD_TITLE_START.search(title):
            self.err(w, f"title starts with filler: {title!r}")
        elif TIME_WORDS_IN_TITLE.search(title):
            self.err(w, f"title contains a time word: {title!r}")
        if item["assignee"] is not None and item["assignee"] not in people:
            self.err(w, f"assignee {item['assignee']!r} not in participants")
        tt = item["time_text"]
        key = "due" if typ == "task" else "start"
        if tt is None:
            if item[key] is not None or item["grain"] is not None:
                self.err(w, "time_text null but value/grain set")
            if item.get("end") is not None:
                self.err(w, "time_text null but end set")
            return
        if not isinstance(tt, str) or tt not in row["text"]:
            self.err(w, f"time_text {tt!r} is not a substring of text")
        elif isinstance(title, str) and len(tt) > 3 and tt.lower() in title.lower():
            self.err(w, f"title contains the time expression {tt!r}")
        grain = item["grain"]
        if grain not in GRAINS:
            self.err(w, f"bad grain {grain!r}")
            return
        value = parse_aware(item[key])
        if value is None:
            self.err(w, f"{key} is not an aware ISO 8601 datetime")
            return
        if not tz_offset_ok(value, tz):
            self.err(w, f"{key} offset {value.utcoffset()} does not match {row['tz']}")
        local = value.astimezone(tz)
        if floor_to_grain(local, grain) != local:
            self.err(w, f"{key} {item[key]} is not at the start of its {grain}")
        if floor_to_grain(at.astimezone(tz), grain) > local:
            self.err(w, f"{key} {item[key]} is in the past relative to at {row['at']}")
        if typ == "event" and item.get("end") is not None:
            end = parse_aware(item["end"])
            if end is None:
                self.err(w, "end is not an aware ISO 8601 datetime")
            elif end <= value:
                self.err(w, "end must be after start")
            elif not tz_offset_ok(end, tz):
                self.err(w, "end offset does not match tz")

    def check_conversations(self) -> dict[str, list[Row]]:
        ids = Counter(r.get("id") for r in self.rows)
        for i, n in ids.items():
            if n > 1:
                self.err(str(i), f"duplicate id ({n}x)")
        convs: dict[str, list[Row]] = defaultdict(list)
        for r in self.rows:
            convs[str(r.get("conversation"))].append(r)
        for cid, msgs in convs.items():
            if not 8 <= len(msgs) <= 30:
                self.warnings.append(f"{cid}: {len(msgs)} messages (expected 8-30)")
            roster = msgs[0].get("participants")
            expected = [f"{cid}-{i:02d}" for i in range(1, len(msgs) + 1)]
            if [m.get("id") for m in msgs] != expected:
                self.err(cid, "messages are not consecutive 01..NN in file order")
            prev = None
            for m in msgs:
                if m.get("participants") != roster:
                    self.err(m["_where"], "roster differs within the conversation")
                if prev is not None and "_at" in m and m["_at"] < prev:
                    self.err(m["_where"], "timestamp earlier than the previous message")
                prev = m.get("_at", prev)
            authors = {m.get("author") for m in msgs}
            if len(authors) < 2:
                self.warnings.append(f"{cid}: only one author")
        texts = Counter(r.get("text", "").strip().lower() for r in self.rows)
        dups = [(t, n) for t, n in texts.items() if n > 3 and len(t) > 12]
        for t, n in dups:
            self.warnings.append(f"text repeated {n}x: {t[:60]!r}")
        return convs

    def check_splits(self, convs: dict[str, list[Row]], path: Path) -> dict[str, str]:
        if not path.exists():
            self.warnings.append("splits.json not found")
            return {}
        splits = json.loads(path.read_text(encoding="utf-8"))
        where: dict[str, str] = {}
        for name in ("train", "dev", "test"):
            for cid in splits.get(name, []):
                if cid in where:
                    self.err("splits.json", f"{cid} in both {where[cid]} and {name}")
                where[cid] = name
        for cid in convs:
            if cid not in where:
                self.err("splits.json", f"{cid} is in no split")
        for cid in where:
            if cid not in convs:
                self.err("splits.json", f"{cid} is not in the data")
        domains = {m[0]["domain"] for m in convs.values()}
        for name in ("train", "dev", "test"):
            present = {convs[c][0]["domain"] for c in splits.get(name, []) if c in convs}
            if missing := domains - present:
                self.err("splits.json", f"{name} lacks domains {sorted(missing)}")
        return where


def table(title: str, counter: dict[str, Counter[str]], cols: list[str]) -> str:
    lines = [title, f"{'':22}" + "".join(f"{c:>9}" for c in cols) + f"{'total':>9}"]
    for key in sorted(counter):
        c = counter[key]
        lines.append(f"{key:22}" + "".join(f"{c[x]:>9}" for x in cols) + f"{sum(c.values()):>9}")
    tot: Counter[str] = Counter()
    for c in counter.values():
        tot.update(c)
    lines.append(
        f"{'TOTAL':22}" + "".join(f"{tot[x]:>9}" for x in cols) + f"{sum(tot.values()):>9}"
    )
    return "\n".join(lines)


def split_of_conversations(convs: dict[str, list[Row]]) -> dict[str, list[str]]:
    """The deterministic split rule from LABELING.md §7 (used to write splits.json)."""
    by_domain: dict[str, list[str]] = defaultdict(list)
    for cid, msgs in convs.items():
        by_domain[msgs[0]["domain"]].append(cid)
    out: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for _, cids in sorted(by_domain.items()):
        cids.sort(key=lambda c: hashlib.sha256(c.encode("utf-8")).hexdigest())
        n = len(cids)
        n_dev = max(1, round(n * 0.15))
        n_test = max(1, round(n * 0.15))
        n_train = n - n_dev - n_test
        out["train"] += cids[:n_train]
        out["dev"] += cids[n_train : n_train + n_dev]
        out["test"] += cids[n_train + n_dev :]
    return {k: sorted(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--quiet", action="store_true", help="only print errors and totals")
    ap.add_argument(
        "--write-splits",
        action="store_true",
        help="(re)write splits.json with the deterministic rule, then check it",
    )
    args = ap.parse_args(argv)
    files = args.files or sorted(HERE.glob("*.jsonl"))
    ck = Checker()
    for f in files:
        ck.check_file(f)
    convs = ck.check_conversations()
    splits_path = HERE / "splits.json"
    if args.write_splits:
        splits_path.write_text(
            json.dumps(split_of_conversations(convs), indent=1) + "\n", encoding="utf-8"
        )
    where = ck.check_splits(convs, splits_path) if not args.files else {}

    by_domain: dict[str, Counter[str]] = defaultdict(Counter)
    by_domain_pri: dict[str, Counter[str]] = defaultdict(Counter)
    by_split: dict[str, Counter[str]] = defaultdict(Counter)
    items: Counter[str] = Counter()
    for r in ck.rows:
        by_domain[str(r.get("domain", "?"))][str(r.get("intent"))] += 1
        by_domain_pri[str(r.get("domain", "?"))][str(r.get("priority"))] += 1
        if where:
            by_split[where.get(str(r.get("conversation")), "?")][str(r.get("intent"))] += 1
        for it in r.get("items") or []:
            items[f"{it.get('type')}/{'timed' if it.get('time_text') else 'untimed'}"] += 1
            items[f"assigned/{it.get('assignee') is not None}"] += 1
    if not args.quiet:
        print(table("intent by domain", by_domain, ["task", "event", "none"]))
        print()
        print(table("priority by domain", by_domain_pri, ["urgent", "high", "normal"]))
        print()
        if by_split:
            print(table("intent by split (messages)", by_split, ["task", "event", "none"]))
            conv_split = Counter(where.get(c, "?") for c in convs)
            print("conversations by split:", dict(sorted(conv_split.items())))
            print()
        print("items:", dict(sorted(items.items())))
        for wmsg in ck.warnings:
            print("WARNING", wmsg)
    print(
        f"{len(ck.rows)} messages, {len(convs)} conversations, {len(ck.errors)} errors, "
        f"{len(ck.warnings)} warnings"
    )
    for e in ck.errors[:200]:
        print("ERROR", e)
    return 1 if ck.errors else 0


if __name__ == "__main__":
    sys.exit(main())
