"""Accepting mail: the sending service, its policy, quota, idempotency and the outbox."""
