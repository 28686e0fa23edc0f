"""Webhooks and security contacts: per-tenant endpoints, a durable outbox, signed delivery."""
