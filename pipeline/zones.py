"""IANA timezone names from users, with one error message for every entry point."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

from pipeline.errors import InputError


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown timezone {name!r}: use an IANA name such as Europe/London"
        ) from exc


def _checked_zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {value!r} (e.g. Europe/London)") from exc
    return value


#: A settings field holding an IANA zone name, checked when the settings are loaded.
ZoneName = Annotated[str, AfterValidator(_checked_zone_name)]
