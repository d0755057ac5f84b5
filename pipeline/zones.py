"""IANA timezone names from users, with one error message for every entry point."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import InputError


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown timezone {name!r}: use an IANA name such as Europe/London"
        ) from exc
