"""The key loader applications use now lives in the client library: `keyguard_client`.

`keyguard.client.load_key` keeps working for scripts written against it; new code imports
`keyguard_client.load_key`, or gives the source to the client itself::

    from keyguard_client import Keyguard

    client = Keyguard.from_source("openbao:secret/apps/mailer#key")  # refreshes on key_rotated
"""

from __future__ import annotations

from keyguard_client.credentials import ClientKey, Reader, load_key

__all__ = ["ClientKey", "Reader", "load_key"]
