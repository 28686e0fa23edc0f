"""Key lifecycle: create, list, show, rotate, revoke, suspend, resume and expiry."""
