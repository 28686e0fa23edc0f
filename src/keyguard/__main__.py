"""`python -m keyguard` runs the CLI."""

from keyguard.cli.main import run

run()
