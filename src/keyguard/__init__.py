"""Keyguard: API key security for email-sending and email-marketing platforms."""

__version__ = "0.1.0"
