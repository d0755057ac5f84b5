"""What an authored message body is: text, media, a deletion, or a notice in a sender's name.

WhatsApp replaces media and deleted messages with fixed, localised placeholders and appends
an "edited" marker; only genuine text should reach the task extractor, so these are
recognised here. Placeholders are matched on the whole body (the first line for
"file attached", whose caption may follow), never as substrings of a sentence.
"""

from __future__ import annotations

import mimetypes
import re
from typing import NamedTuple

from pipeline.domain import Attachment, MessageKind

_MEDIA_OMITTED = re.compile(
    r"<(?:media omitted|medien ausgelassen|multimedia omitido|mídia oculta|media weggelaten"
    r"|médias omis|media omessi|メディアなし)>"
    r"|(?:image|video|audio|sticker|gif|document|contact card) omitted"
    r"|(?:bild|video|audio|sticker|gif|dokument) weggelassen"
    r"|.+ document omitted",
    re.IGNORECASE,
)
_ATTACHED_TAG = re.compile(r"<(?:attached|anhang): (?P<name>[^>]+)>", re.IGNORECASE)
_FILE_ATTACHED = re.compile(
    r"(?P<name>.+?) \((?:file attached|datei angehängt|archivo adjunto|arquivo anexado"
    r"|fichier joint|file allegato|ファイル添付)\)",
    re.IGNORECASE,
)
_DELETED = re.compile(
    r"(?:this message was deleted|you deleted this message|diese nachricht wurde gelöscht"
    r"|du hast diese nachricht gelöscht|se eliminó este mensaje|eliminaste este mensaje)\.?",
    re.IGNORECASE,
)
_EDITED = re.compile(
    r"\s*<(?:this message was edited|diese nachricht wurde bearbeitet)>\s*$", re.IGNORECASE
)
# Notices WhatsApp prints under a sender's or the chat's name (old encryption banners,
# business chats, iOS missed calls): they have an author but are not things anyone wrote.
_AUTHORED_NOTICE = re.compile(
    r"messages and calls are end-to-end encrypted"
    r"|messages (?:you send )?to this (?:group|chat)(?: and calls)? are now secured"
    r"|this business uses a secure service"
    r"|missed (?:group )?(?:voice|video) call",
    re.IGNORECASE,
)


class Body(NamedTuple):
    kind: MessageKind
    text: str
    edited: bool
    attachment_names: tuple[str, ...]


def classify_body(text: str) -> Body:
    """Classify an authored message's (already joined and cleaned) text."""
    edited_marker = _EDITED.search(text) if text.endswith(">") else None
    if edited_marker:
        text = text[: edited_marker.start()]
    edited = edited_marker is not None
    first_line = text.partition("\n")[0]
    attached = _ATTACHED_TAG.fullmatch(first_line) or _FILE_ATTACHED.fullmatch(first_line)
    if attached:
        return Body(MessageKind.MEDIA, text, edited, (attached["name"].strip(),))
    if _MEDIA_OMITTED.fullmatch(text):
        return Body(MessageKind.MEDIA, text, edited, ())
    if _DELETED.fullmatch(text):
        return Body(MessageKind.DELETED, text, edited, ())
    if _AUTHORED_NOTICE.match(text):
        return Body(MessageKind.SYSTEM, text, edited, ())
    return Body(MessageKind.TEXT, text, edited, ())


def attachment(name: str, media: dict[str, str]) -> Attachment:
    """An attachment for a named file, pointing into the zip when the file came with it."""
    member = media.get(name)
    # guess_type reads the suffix of a path; a bare ".jpg" (as some exports print) is a
    # hidden file to it, so give it a stem.
    media_type, _ = mimetypes.guess_type(f"file{name}" if name.startswith(".") else name)
    return Attachment(filename=name, media_type=media_type, uri=f"zip:{member}" if member else None)
