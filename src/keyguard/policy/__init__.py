"""Scopes and per-key restrictions: pure checks that return Allowed or Denied(reason)."""
