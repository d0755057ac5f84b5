"""The WhatsApp export parser against our own fixtures (one per layout variant) and the
external corpus in ``../shared/benchmarks/whatsapp-exports``.

Binary variants that are cheap to derive (UTF-16 without BOM, broken zips) are built from
the text fixtures in ``tmp_path``; the committed binary fixtures are ``utf8_bom.txt``,
``utf16le_bom.txt`` and ``WhatsApp Chat - Media Team.zip``.
"""

from __future__ import annotations

import codecs
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from eval.score_exports import load_manifest, score_file
from pipeline.domain import MessageKind
from pipeline.errors import EncodingError, ExportFormatError, InputError
from pipeline.sources.whatsapp import (
    DateOrder,
    ParsedExport,
    UnparsedLine,
    parse_export,
    parse_export_text,
)

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
CORPUS = Path(__file__).resolve().parents[2] / "shared/benchmarks/whatsapp-exports"

TEXT, MEDIA, SYSTEM, DELETED = (
    MessageKind.TEXT,
    MessageKind.MEDIA,
    MessageKind.SYSTEM,
    MessageKind.DELETED,
)
DMY, MDY, YMD = DateOrder.DMY, DateOrder.MDY, DateOrder.YMD


def parse(name: str, **options: Any) -> ParsedExport:
    return parse_export(FIXTURES / name, **options)


def summary(message: Any) -> tuple[str, str | None, str]:
    """(naive ISO time, author, text): what the tables below pin for first and last."""
    return message.sent_at.replace(tzinfo=None).isoformat(), message.author, message.text


@dataclass(frozen=True)
class Expected:
    count: int
    authors: set[str]
    layout: str
    clock: str
    order: DateOrder
    first: tuple[str, str | None, str]
    last: tuple[str, str | None, str]
    ambiguous: bool = False


SUMMARIES = [
    pytest.param(
        "android_dmy4_24h.txt",
        Expected(
            5,
            {"Alice Martin", "Bob", "+44 7700 900123"},
            "android",
            "24h",
            DMY,
            ("2024-03-14T09:05:00", "Alice Martin", "Morning team, the Q2 report is due Friday"),
            ("2024-03-15T17:45:00", "+44 7700 900123", "Call me at 18:00 - it's urgent"),
        ),
        id="android-dmy4-24h",
    ),
    pytest.param(
        "android_mdy2_24h.txt",
        Expected(
            3,
            {"Alice", "Bob"},
            "android",
            "24h",
            MDY,
            ("2024-03-14T09:05:00", "Alice", "Can we move the demo?"),
            ("2024-03-15T08:00:00", "Alice", "Great, booked"),
        ),
        id="android-mdy2-24h",
    ),
    pytest.param(
        "android_ymd4_dashed_24h.txt",
        Expected(
            3,
            {"山田太郎", "Alice"},
            "android",
            "24h",
            YMD,
            ("2024-03-05T09:05:00", "山田太郎", "おはようございます"),
            ("2024-04-06T18:30:00", "山田太郎", "明日の会議は10時です"),
        ),
        id="android-ymd4-dashed",
    ),
    pytest.param(
        "android_dotted_dmy2_24h.txt",
        Expected(
            3,
            {"Jürgen", "Anna"},
            "android",
            "24h",
            DMY,
            ("2024-03-14T09:05:00", "Jürgen", "Guten Morgen"),
            ("2024-03-14T09:07:00", "Anna", "IMG-20240314-WA0003.jpg (Datei angehängt)"),
        ),
        id="android-dotted-dmy2",
    ),
    pytest.param(
        "android_dashed_dmy4_24h.txt",
        Expected(
            2,
            {"Alice", "Bob"},
            "android",
            "24h",
            DMY,
            ("2024-02-28T23:59:00", "Alice", "Last call for February"),
            ("2024-02-29T00:01:00", "Bob", "Leap day!"),
        ),
        id="android-dashed-dmy4",
    ),
    pytest.param(
        "android_unpadded_mdy2_24h.txt",
        Expected(
            2,
            {"Alice", "Bob"},
            "android",
            "24h",
            MDY,
            ("2024-03-04T09:05:00", "Alice", "Ping"),
            ("2024-03-14T10:15:00", "Bob", "Pong"),
        ),
        id="android-unpadded-mdy2",
    ),
    pytest.param(
        "android_12h_nnbsp_mdy.txt",
        Expected(
            4,
            {"Alice", "Bob"},
            "android",
            "12h",
            MDY,
            ("2024-03-14T00:05:00", "Alice", "Still up?"),
            ("2024-03-14T23:59:00", "Bob", "Night"),
        ),
        id="android-12h-narrow-nbsp",
    ),
    pytest.param(
        "android_12h_dotted_dmy.txt",
        Expected(
            3,
            {"María", "José"},
            "android",
            "12h",
            DMY,
            ("2024-03-14T09:05:00", "María", "Hola equipo"),
            ("2024-03-14T16:40:00", "María", "Listo"),
        ),
        id="android-12h-p.m.",
    ),
    pytest.param(
        "ios_dmy4_seconds.txt",
        Expected(
            7,
            {"Alice", "Bob", "Carol"},
            "ios",
            "24h",
            DMY,
            ("2024-03-14T09:05:12", "Alice", "Here is the site photo"),
            ("2024-03-14T09:13:45", "Carol", "مرحبا بالجميع"),
        ),
        id="ios-seconds-lrm",
    ),
    pytest.param(
        "ios_mdy2_no_seconds.txt",
        Expected(
            2,
            {"Alice", "Bob"},
            "ios",
            "24h",
            MDY,
            ("2024-03-14T09:05:00", "Alice", "Invoice sent"),
            ("2024-03-14T17:40:00", "Bob", "Received, thanks\nWill pay Monday"),
        ),
        id="ios-no-seconds-no-comma",
    ),
    pytest.param(
        "android_system_lines.txt",
        Expected(
            10,
            {"Bob"},
            "android",
            "24h",
            DMY,
            (
                "2024-03-20T10:00:00",
                None,
                "Messages and calls are end-to-end encrypted. No one outside of this chat, "
                "not even WhatsApp, can read or listen to them. Tap to learn more.",
            ),
            ("2024-03-20T10:08:00", None, "Bob left"),
        ),
        id="system-lines",
    ),
    pytest.param(
        "android_media_placeholders.txt",
        Expected(
            10,
            {"Alice", "Bob"},
            "android",
            "24h",
            DMY,
            ("2024-03-21T11:00:00", "Alice", "<Media omitted>"),
            ("2024-03-21T11:09:00", "Bob", "Please resend the media omitted earlier"),
        ),
        id="media-placeholders",
    ),
    pytest.param(
        "android_deleted_edited.txt",
        Expected(
            5,
            {"Alice", "Bob"},
            "android",
            "24h",
            DMY,
            ("2024-03-22T12:00:00", "Alice", "This message was deleted"),
            ("2024-03-22T12:04:00", "Alice", "Line one\nline two"),
        ),
        id="deleted-edited",
    ),
    pytest.param(
        "ambiguous_order.txt",
        Expected(
            2,
            {"Alice", "Bob"},
            "android",
            "24h",
            DMY,
            ("2024-04-03T10:00:00", "Alice", "See you then"),
            ("2024-04-03T10:05:00", "Bob", "Yes"),
            ambiguous=True,
        ),
        id="ambiguous-order-defaults-dmy",
    ),
    pytest.param(
        "junk_before_header.txt",
        Expected(
            1,
            {"Alice"},
            "android",
            "24h",
            DMY,
            ("2024-03-14T09:05:00", "Alice", "First real message"),
            ("2024-03-14T09:05:00", "Alice", "First real message"),
        ),
        id="junk-before-header",
    ),
    pytest.param(
        "utf8_bom.txt",
        Expected(
            2,
            {"Zoë", "Ana"},
            "android",
            "24h",
            DMY,
            ("2024-03-14T09:05:00", "Zoë", "Café at 10?"),
            ("2024-03-14T09:06:00", "Ana", "Sí 👍"),
        ),
        id="utf8-bom",
    ),
    pytest.param(
        "utf16le_bom.txt",
        Expected(
            2,
            {"Zoë", "Ana"},
            "ios",
            "24h",
            DMY,
            ("2024-03-14T09:05:00", "Zoë", "Café at 10?"),
            ("2024-03-14T09:06:10", "Ana", "Sí 👍"),
        ),
        id="utf16le-bom-crlf",
    ),
    pytest.param(
        "WhatsApp Chat - Media Team.zip",
        Expected(
            4,
            {"Alice", "Bob"},
            "ios",
            "24h",
            DMY,
            ("2024-03-14T09:05:12", "Alice", "Site visit done"),
            ("2024-03-14T09:09:00", "Bob", "IMG-20240314-WA0007.jpg (file attached)"),
        ),
        id="zip-with-media",
    ),
]


@pytest.mark.parametrize(("name", "expected"), SUMMARIES)
def test_fixture_summary(name: str, expected: Expected) -> None:
    parsed = parse(name)
    messages = parsed.messages
    assert len(messages) == expected.count
    assert {m.author for m in messages if m.author is not None} == expected.authors
    assert (parsed.layout, parsed.clock) == (expected.layout, expected.clock)
    assert (parsed.date_order, parsed.date_order_ambiguous) == (expected.order, expected.ambiguous)
    assert summary(messages[0]) == expected.first
    assert summary(messages[-1]) == expected.last
    assert all(m.source == "whatsapp-export" and m.chat == parsed.chat for m in messages)


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("android_system_lines.txt", [SYSTEM] * 7 + [TEXT] + [SYSTEM] * 2),
        ("android_media_placeholders.txt", [MEDIA] * 9 + [TEXT]),
        ("android_deleted_edited.txt", [DELETED, DELETED, TEXT, TEXT, TEXT]),
        ("ios_dmy4_seconds.txt", [TEXT, MEDIA, MEDIA, SYSTEM, TEXT, SYSTEM, TEXT]),
        ("android_dotted_dmy2_24h.txt", [TEXT, MEDIA, MEDIA]),
    ],
)
def test_kinds(name: str, kinds: list[MessageKind]) -> None:
    assert [m.kind for m in parse(name).messages] == kinds


def test_system_lines_have_no_author_even_with_a_colon_in_quotes() -> None:
    messages = parse("android_system_lines.txt").messages
    assert (messages[3].author, messages[3].text) == (
        None,
        'Alice changed the subject from "Ops" to "Ops: Q3 plan"',
    )
    assert (messages[7].author, messages[7].text) == ("Bob", "Thanks for adding me: happy to help")


LONG_PREFIX = "Someone wrote a very long sentence that cannot be a contact name at all"


@pytest.mark.parametrize(
    ("body", "author", "text", "kind"),
    [
        ("Amazon EG:", "Amazon EG", "", TEXT),
        ("John Doe:.", None, "John Doe:.", SYSTEM),
        ("Ann: Re: the invoice", "Ann", "Re: the invoice", TEXT),
        (
            'Bob changed the subject to "Q3: plan"',
            None,
            'Bob changed the subject to "Q3: plan"',
            SYSTEM,
        ),
        (
            "Shop: Messages and calls are end-to-end encrypted.",
            "Shop",
            "Messages and calls are end-to-end encrypted.",
            SYSTEM,
        ),
        (f"{LONG_PREFIX}: really", None, f"{LONG_PREFIX}: really", SYSTEM),
    ],
)
def test_author_rule(body: str, author: str | None, text: str, kind: MessageKind) -> None:
    (message,) = parse_export_text(f"14/03/2024, 09:05 - {body}\n", chat="c").messages
    assert (message.author, message.text, message.kind) == (author, text, kind)


def test_edited_marker_is_removed_and_flagged() -> None:
    messages = parse("android_deleted_edited.txt").messages
    assert [(m.text, m.edited) for m in messages[2:]] == [
        ("Meeting moved to 3pm", True),
        ("Agreed", True),
        ("Line one\nline two", True),
    ]
    assert not messages[0].edited


def test_multiline_messages_keep_inner_blank_lines_and_zwj_emoji() -> None:
    message = parse("android_dmy4_24h.txt").messages[3]
    assert message.text == "Agenda for tomorrow:\n\n1. budget 👩\u200d💻\n2. hiring"
    assert message.line == 4


def test_invisible_marks_are_stripped_from_authors_and_text() -> None:
    messages = parse("ios_dmy4_seconds.txt").messages
    assert messages[1].text == "image omitted"
    assert parse("android_dmy4_24h.txt").messages[-1].author == "+44 7700 900123"


def test_identical_messages_get_distinct_ids_that_survive_reimport() -> None:
    first, second = parse("android_dmy4_24h.txt"), parse("android_dmy4_24h.txt")
    ids = [m.id for m in first.messages]
    assert len(set(ids)) == len(ids)
    assert ids == [m.id for m in second.messages]
    assert all(i.startswith("h:") for i in ids)


def test_header_line_numbers() -> None:
    assert [m.line for m in parse("android_media_placeholders.txt").messages] == [
        1, 2, 3, 5, 6, 7, 8, 9, 10, 11,
    ]  # fmt: skip


def test_lines_before_the_first_header_are_reported_not_dropped() -> None:
    parsed = parse("junk_before_header.txt")
    assert parsed.unparsed == [
        UnparsedLine(1, "Exported from my phone", "before the first message header"),
        UnparsedLine(2, "(please ignore)", "before the first message header"),
    ]
    assert parsed.messages[0].line == 4


@pytest.mark.parametrize(
    ("name", "index", "filename", "media_type", "uri"),
    [
        ("android_media_placeholders.txt", 2, "IMG-20240321-WA0001.jpg", "image/jpeg", None),
        ("android_media_placeholders.txt", 3, "DOC-20240321-WA0002.pdf", "application/pdf", None),
        ("android_media_placeholders.txt", 8, ".jpg", "image/jpeg", None),
        (
            "WhatsApp Chat - Media Team.zip",
            1,
            "00000012-PHOTO-2024-03-14-09-07-30.jpg",
            "image/jpeg",
            "zip:00000012-PHOTO-2024-03-14-09-07-30.jpg",
        ),
        (
            "WhatsApp Chat - Media Team.zip",
            2,
            "00000013-PHOTO-2024-03-14-09-08-02.jpg",
            "image/jpeg",
            None,
        ),
        (
            "WhatsApp Chat - Media Team.zip",
            3,
            "IMG-20240314-WA0007.jpg",
            "image/jpeg",
            "zip:IMG-20240314-WA0007.jpg",
        ),
    ],
)
def test_attachments(
    name: str, index: int, filename: str, media_type: str, uri: str | None
) -> None:
    (found,) = parse(name).messages[index].attachments
    assert (found.filename, found.media_type, found.uri) == (filename, media_type, uri)


def test_media_caption_stays_in_the_text() -> None:
    message = parse("android_media_placeholders.txt").messages[2]
    assert message.text == "IMG-20240321-WA0001.jpg (file attached)\nInvoice for March"
    assert parse("android_media_placeholders.txt").messages[0].attachments == ()


@pytest.mark.parametrize(
    ("file_name", "chat"),
    [
        ("WhatsApp Chat with Sales Team.txt", "Sales Team"),
        ("WhatsApp Chat - X.zip", "X"),
        ("export-2024.txt", "export-2024"),
    ],
)
def test_chat_name_comes_from_the_file_name(tmp_path: Path, file_name: str, chat: str) -> None:
    path = tmp_path / file_name
    source = (FIXTURES / "android_mdy2_24h.txt").read_bytes()
    if file_name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("WhatsApp Chat - X.txt", source)
    else:
        path.write_bytes(source)
    assert parse_export(path).chat == chat
    assert parse_export(path, chat="Given").messages[0].chat == "Given"


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-8", b""),
    ],
)
def test_utf16_and_utf8_variants(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = (FIXTURES / "ios_dmy4_seconds.txt").read_text(encoding="utf-8")
    path = tmp_path / "chat.txt"
    path.write_bytes(bom + text.encode(encoding))
    assert [summary(m) for m in parse_export(path).messages] == [
        summary(m) for m in parse("ios_dmy4_seconds.txt").messages
    ]


def test_other_encodings_raise_encoding_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("14/03/2024, 09:05 - Zoë: Café?\n".encode("latin-1"))
    with pytest.raises(EncodingError, match=r"latin1\.txt") as caught:
        parse_export(path)
    assert caught.value.code == "C2T102"


def _write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"", None, "empty"),
        (b"\nhello there\n14/03/2024 no time here\n", 2, "no WhatsApp message header"),
        (b"PK\x03\x04 this is not really a zip", None, "corrupt"),
    ],
)
def test_export_format_errors(
    tmp_path: Path, content: bytes, line: int | None, message: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ExportFormatError, match=message) as caught:
        parse_export(path)
    assert (caught.value.code, caught.value.path, caught.value.line) == ("C2T101", str(path), line)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"a.txt": b"x", "b.txt": b"y"}, "several .txt files"),
        ({"IMG-1.jpg": b"x"}, "no .txt file"),
    ],
)
def test_zip_without_one_chat_text(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    path = tmp_path / "export.zip"
    _write_zip(path, members)
    with pytest.raises(ExportFormatError, match=message):
        parse_export(path)


def test_zip_prefers_the_member_named_like_a_chat(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    chat = (FIXTURES / "android_mdy2_24h.txt").read_bytes()
    _write_zip(path, {"notes.txt": b"not a chat", "_chat.txt": chat})
    assert len(parse_export(path).messages) == 3


def test_forced_date_order_overrides_detection() -> None:
    parsed = parse("ambiguous_order.txt", date_order=MDY)
    assert (parsed.date_order, parsed.date_order_ambiguous) == (MDY, False)
    assert parsed.messages[0].sent_at.date().isoformat() == "2024-03-04"


def test_forced_date_order_that_cannot_fit_names_the_line() -> None:
    with pytest.raises(ExportFormatError) as caught:
        parse("android_dmy4_24h.txt", date_order=MDY)
    assert caught.value.line == 1


def _chat(*dates: str, body: str = "x") -> str:
    """A tiny Android export: one message at 10:00 on each header date."""
    return "".join(f"{date}, 10:00 - A: {body}\n" for date in dates)


PHOTO = "IMG-20240302-WA0001.jpg (file attached)"


@pytest.mark.parametrize(
    ("text", "order", "ambiguous"),
    [
        # Going back in time under d/m/y (1 Feb, then 2 Jan): month-first reads in order.
        (_chat("01/02/2024", "02/01/2024"), MDY, True),
        # A media file name dates the message: 2 March, so the header is d/m or m/d.
        (_chat("02/03/2024", body=PHOTO), DMY, True),
        (_chat("03/02/2024", body=PHOTO), MDY, True),
        # The first field changes from message to message: it is the day.
        (_chat("01/05/2024", "02/05/2024", "03/05/2024"), DMY, True),
        (_chat("05/01/2024", "05/02/2024", "05/03/2024"), MDY, True),
        # Day == month everywhere: both readings agree, so nothing is ambiguous.
        (_chat("05/05/2024"), DMY, False),
        # One day > 12 pins the order for the whole file; so does a year written first.
        (_chat("01/02/2024", "13/02/2024"), DMY, False),
        (_chat("2024.02.01"), YMD, False),
        (_chat("2024/3/5"), YMD, False),
    ],
)
def test_date_order_detection(text: str, order: DateOrder, ambiguous: bool) -> None:
    parsed = parse_export_text(text, chat="c")
    assert (parsed.date_order, parsed.date_order_ambiguous) == (order, ambiguous)


def test_dst_gap_shifts_forward_and_repeated_hour_takes_the_first() -> None:
    messages = parse("dst_europe_berlin.txt", tz="Europe/Berlin").messages
    assert [m.sent_at.isoformat() for m in messages] == [
        "2024-03-31T01:59:00+01:00",
        "2024-03-31T03:30:00+02:00",
        "2024-10-27T02:30:00+02:00",
    ]


def test_timestamps_are_aware_in_the_given_zone() -> None:
    sent_at = parse("android_mdy2_24h.txt", tz="America/New_York").messages[0].sent_at
    assert sent_at == datetime.fromisoformat("2024-03-14T09:05:00-04:00")


def test_unknown_time_zone_is_an_input_error() -> None:
    with pytest.raises(InputError, match="Mars/Olympus"):
        parse("android_mdy2_24h.txt", tz="Mars/Olympus")


def _manifest_entries() -> list[Any]:
    manifest = CORPUS / "MANIFEST.json"
    if not manifest.is_file():
        return [pytest.param(None, id="corpus-missing")]
    return [pytest.param(entry, id=entry["file"]) for entry in load_manifest(manifest)]


@pytest.mark.parametrize("entry", _manifest_entries())
def test_external_corpus_matches_its_manifest(entry: dict[str, Any] | None) -> None:
    """Every field the manifest expects, judged as ``python -m eval.score_exports`` does."""
    if entry is None:
        reason = f"external export corpus not found at {CORPUS}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    score = score_file(entry, CORPUS)
    assert score.failures() == []
