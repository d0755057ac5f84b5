"""The connector error tree (httpx style): the sync engine decides what to do by type alone.

=====================  ======  ===========================================================
error                  code    the sync engine
=====================  ======  ===========================================================
ConnectorConfigError   C2T500  refuses to start; the message names the file and the key
RateLimited            C2T510  waits ``retry_after`` (or backs off) and tries again
AuthExpired            C2T511  the connector refreshes its token once; then as Transient
Transient              C2T512  backs off exponentially with jitter and tries again
Permanent              C2T520  gives up: the item's sync goes to the dead-letter list
RemoteNotFound         C2T521  the remote record is gone: relink (create again) or give up
=====================  ======  ===========================================================
"""

from __future__ import annotations

from pipeline.errors import Chat2TaskError, ConfigError


class ConnectorError(Chat2TaskError):
    """Something went wrong talking to an external system."""

    code = "C2T501"


class ConnectorConfigError(ConnectorError, ConfigError):
    """A connector's options, secrets or field mapping are invalid, or its SDK is missing."""

    code = "C2T500"


class RateLimited(ConnectorError):
    """The API asked us to slow down; ``retry_after`` seconds when it said how long."""

    code = "C2T510"
    retriable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthExpired(ConnectorError):
    """The session or access token is no longer accepted."""

    code = "C2T511"
    retriable = True


class Transient(ConnectorError):
    """A failure that may pass: 5xx, timeouts, dropped connections."""

    code = "C2T512"
    retriable = True


class Permanent(ConnectorError):
    """The API refused the request for good (validation, permissions): retrying cannot help."""

    code = "C2T520"


class RemoteNotFound(Permanent):
    """The remote record we were linked to no longer exists."""

    code = "C2T521"
