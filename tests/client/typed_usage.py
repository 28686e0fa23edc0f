"""A program using keyguard_client the way applications do; `mypy --strict` must accept it
(tests/client/test_package.py runs it, without the pydantic mypy plugin)."""

from __future__ import annotations

import asyncio

from keyguard_client import (
    AsyncKeyguard,
    Keyguard,
    Message,
    NotFound,
    RateLimited,
    Retries,
    load_key,
)
from keyguard_client.models import CreatedKey, Key, SendResult, Verification


def send_welcome(client: Keyguard, to: str) -> str | None:
    result: SendResult = client.mail.send(
        Message(sender="news@brand.example", to=[to], subject="Welcome", text="Hello!")
    )
    return result.messages[0].id


def newest_keys(client: Keyguard) -> list[str]:
    keys: list[Key] = list(client.keys.list(limit=50))
    return [key.id for key in keys if key.state == "active"]


def rotate(client: Keyguard, key_id: str) -> str:
    created: CreatedKey = client.keys.rotate(key_id, grace="24h")
    return created.key.get_secret_value()


def gateway_allows(client: Keyguard, presented: str, ip: str) -> bool:
    answer: Verification = client.keys.verify(presented, scope="mail:send", ip=ip)
    return answer.valid


def contact_name(client: Keyguard, contact_id: str) -> str | None:
    try:
        contact = client.contacts.update(contact_id, first_name=None, attributes={"plan": "pro"})
    except NotFound:
        return None
    except RateLimited as error:
        raise SystemExit(f"slow down for {error.retry_after} s") from error
    return contact.first_name


async def count_sandboxed(client: AsyncKeyguard) -> int:
    return len([message async for message in client.sandbox.list()])


def main() -> None:
    key = load_key("env:KEYGUARD_API_KEY")
    with Keyguard(key, retries=Retries(total=5)) as client:
        send_welcome(client, "a@example.com")
        newest_keys(client)
    asyncio.run(count_sandboxed(AsyncKeyguard.from_env()))


if __name__ == "__main__":
    main()
