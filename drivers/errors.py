"""One exception tree for every device link; library errors are translated into it at the boundary."""

from __future__ import annotations


class DriverError(Exception):
    """A device link failed. The node treats any of these as a fault of the link, never as a pass."""


class DriverTimeout(DriverError):
    """The device did not answer in time."""


class Disconnected(DriverError):
    """The link is down (refused, reset, closed); the shell reconnects with backoff."""


class TagError(DriverError):
    """A signal/tag/register is missing, of the wrong type, or out of range."""
