"""A CI job that rotates a Keyguard key and puts the successor into OpenBao/Vault (KV v2).

    # e.g. a scheduled GitHub Actions / GitLab job, with secrets in its environment:
    #   KEYGUARD_BASE_URL, KEYGUARD_API_KEY, BAO_ADDR, BAO_TOKEN
    # The job's own key holds keys:write and every scope of the keys it rotates (a key never
    # hands out more than it holds).
    pip install 'keyguard-client[vault]'
    python rotate_into_vault.py key_3xK9aB7cD1eF2gH4 secret/apps/mailer --grace 24h

The successor goes to the vault and nowhere else: not to stdout, not to the job log. The
application reads it with `Keyguard.from_source("openbao:secret/apps/mailer")`, by itself when
the server answers `key_rotated` or at the latest when its cached key is 5 minutes old; the
old key keeps working for the grace period in between.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import hvac
import hvac.exceptions
from keyguard_client import Keyguard, KeyguardError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key_id", help="The key to rotate (its id, never its text).")
    parser.add_argument("path", help="KV v2 MOUNT/PATH of the application's secret.")
    parser.add_argument("--field", default="key", help="The secret's field (default: key).")
    parser.add_argument("--grace", default="24h", help="How long the old key keeps working.")
    args = parser.parse_args(argv)
    mount, _, path = args.path.strip("/").partition("/")
    try:
        with Keyguard.from_env() as keyguard:
            successor = keyguard.keys.rotate(args.key_id, grace=args.grace)
    except KeyguardError as error:
        sys.stderr.write(f"rotation failed: {error}\n")
        return 1
    vault: Any = hvac.Client(url=os.environ["BAO_ADDR"], token=os.environ["BAO_TOKEN"])
    secret = {args.field: successor.key.get_secret_value()}
    try:  # patch, not overwrite: the other fields of the application's secret are kept
        vault.secrets.kv.v2.patch(path=path, mount_point=mount, secret=secret)
    except hvac.exceptions.InvalidPath:  # no secret there yet
        vault.secrets.kv.v2.create_or_update_secret(path=path, mount_point=mount, secret=secret)
    # What the job log may show: ids, no key.
    report = {"rotated": args.key_id, "successor": successor.id, "stored": args.path}
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
