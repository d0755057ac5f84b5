"""Read an export file: a plain ``.txt`` or the ``.zip`` WhatsApp makes "with media".

A zip holds one chat text (``_chat.txt`` on iOS, ``WhatsApp Chat with X.txt`` on Android)
beside the media files; the media names are kept so messages can point at their files.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline.errors import ExportFormatError, InputError

_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)
_CHAT_MEMBER = re.compile(r"(?:_chat|WhatsApp[ _-]Chat.*)\.txt", re.IGNORECASE)
_IGNORED_PREFIX = "__MACOSX/"


@dataclass(frozen=True, slots=True)
class ExportBytes:
    """The chat text's raw bytes and, for a zip, its media files by base name."""

    data: bytes
    name: str
    media: dict[str, str] = field(default_factory=dict)


def read_export_bytes(path: Path) -> ExportBytes:
    """Load ``path``; a zip is recognised by suffix or magic bytes, whatever its name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".zip" or data.startswith(_ZIP_MAGIC):
        return _read_zip(data, str(path))
    return ExportBytes(data, str(path))


def _read_zip(data: bytes, name: str) -> ExportBytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [
                info.filename
                for info in archive.infolist()
                if not info.is_dir() and not info.filename.startswith(_IGNORED_PREFIX)
            ]
            chat_member = _chat_member(members, name)
            text = archive.read(chat_member)
    except _ZIP_ERRORS as exc:
        raise ExportFormatError(f"corrupt or unreadable zip archive ({exc})", path=name) from exc
    media = {PurePosixPath(m).name: m for m in members if m != chat_member}
    return ExportBytes(text, f"{name}!{chat_member}", media)


def _chat_member(members: list[str], name: str) -> str:
    """The archive's only ``.txt``, else the one named like a WhatsApp chat file."""
    texts = [m for m in members if m.lower().endswith(".txt")]
    chats = [m for m in texts if _CHAT_MEMBER.fullmatch(PurePosixPath(m).name)]
    for candidates in (texts, chats):
        if len(candidates) == 1:
            return candidates[0]
    found = f"several .txt files ({', '.join(texts)})" if texts else "no .txt file"
    raise ExportFormatError(
        f"zip holds {found}; expected one chat text such as _chat.txt", path=name
    )
