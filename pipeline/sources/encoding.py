"""Decode an export's bytes: UTF-8 (with or without BOM) or UTF-16 (with or without BOM).

Phones and desktop tools re-save exports as UTF-16, often without a BOM; its ASCII-heavy
headers leave a NUL in every other byte, which tells the byte order. Anything else is
refused by name rather than decoded into mojibake.
"""

from __future__ import annotations

import codecs

from pipeline.errors import EncodingError

_SAMPLE_BYTES = 4096
#: Share of 2-byte units with a NUL on one side above which a BOM-less file is UTF-16.
_UTF16_NUL_SHARE = 0.25


def decode_export(data: bytes, name: str) -> str:
    """Return the text of ``data``; ``name`` (the file or archive member) goes in errors."""
    encoding = _sniff_encoding(data, name)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"{name}: not valid {encoding} ({exc.reason} at byte {exc.start}); "
            "export the chat again or convert the file to UTF-8"
        ) from exc


def _sniff_encoding(data: bytes, name: str) -> str:
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise EncodingError(f"{name}: UTF-32 is not supported; convert the file to UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # this codec reads the BOM, picks the byte order and drops it
    sample = data[:_SAMPLE_BYTES]
    units = max(len(sample) // 2, 1)
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    if odd_nuls > even_nuls and odd_nuls / units >= _UTF16_NUL_SHARE:
        return "utf-16-le"
    if even_nuls > odd_nuls and even_nuls / units >= _UTF16_NUL_SHARE:
        return "utf-16-be"
    return "utf-8"
