"""The client's version: always the server's (a test compares it with the server's pyproject)."""

__version__ = "0.1.0"
