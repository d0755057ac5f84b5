"""chat2task: turn business chat into tasks, deadlines and calendar events."""

__version__ = "0.1.0"
