"""Calendars: iCalendar feeds of the stored items and a CalDAV push.

:mod:`connectors.calendar.ics` builds the iCalendar objects (also behind
``chat2task tasks --format ics``), :mod:`connectors.calendar.caldav` writes them to a
CalDAV server and :mod:`connectors.calendar.commands` is ``chat2task calendar``. Nothing is
imported here, so the CLI registers the commands without loading httpx or icalendar.
"""
