"""The `keyguard` command: thin Typer commands on the same services as the HTTP API."""
