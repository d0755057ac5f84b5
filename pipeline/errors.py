"""Every user-facing error of chat2task, with a code and a sentence saying what to do.

Codes are stable (``C2T1xx`` input, ``C2T2xx`` configuration, ``C2T3xx`` storage,
``C2T4xx`` models) so that logs, docs and bug reports can refer to them.
"""

from __future__ import annotations


class Chat2TaskError(Exception):
    """Base class: ``code`` is stable, the message says what went wrong and what to do."""

    code = "C2T000"
    #: Whether a background job failing with this error may succeed if tried again later.
    retriable = False

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")
        self.detail = message


class InputError(Chat2TaskError):
    """The input (an export, a JSONL line, a CLI argument) cannot be read as given."""

    code = "C2T100"


class ExportFormatError(InputError):
    """A chat export is not in any WhatsApp layout we know."""

    code = "C2T101"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ":".join(str(p) for p in (path, line) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line


class EncodingError(InputError):
    """A file is not UTF-8, UTF-8 with BOM or UTF-16."""

    code = "C2T102"


class JsonlError(InputError):
    """A line of a JSONL input is not a JSON object with the required fields."""

    code = "C2T103"

    def __init__(self, message: str, *, path: str, line: int) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


class ConfigError(Chat2TaskError):
    """A configuration file or environment variable is invalid."""

    code = "C2T200"


class ModelNotFoundError(ConfigError):
    """The spaCy model (or a trained classifier) named in the settings is not installed."""

    code = "C2T201"


class StorageError(Chat2TaskError):
    """The database cannot be reached, migrated or written."""

    code = "C2T300"
    retriable = True
