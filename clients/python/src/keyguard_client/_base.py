"""What the synchronous and the asynchronous client share: settings, parsing, I/O shims."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

import anyio.to_thread
import httpx
from pydantic import BaseModel

from keyguard_client._version import __version__
from keyguard_client.credentials import ClientKey, load_key
from keyguard_client.errors import KeySourceError
from keyguard_client.models import Page

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

KEY_VARIABLE: Final = "KEYGUARD_API_KEY"
SOURCE_VARIABLE: Final = "KEYGUARD_API_KEY_SOURCE"
URL_VARIABLE: Final = "KEYGUARD_BASE_URL"
DEFAULT_BASE_URL: Final = "http://127.0.0.1:8080"
# Every request has a deadline: 5 s to connect, 30 s for the rest.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
USER_AGENT: Final = f"keyguard-client/{__version__}"

Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]
PageFetch = Callable[[str | None], Page[T]]
AsyncPageFetch = Callable[[str | None], Awaitable[Page[T]]]


def resolve_key(key: str | ClientKey | None) -> ClientKey:
    """The key given, else KEYGUARD_API_KEY, else the source in KEYGUARD_API_KEY_SOURCE."""
    if isinstance(key, ClientKey):
        return key
    if key is not None:
        return ClientKey.static(key)
    text = os.environ.get(KEY_VARIABLE)
    if text:
        return ClientKey.static(text, source=f"env:{KEY_VARIABLE}")
    source = os.environ.get(SOURCE_VARIABLE)
    if source:
        return load_key(source)
    raise KeySourceError(
        f"no API key: pass key=..., or set {KEY_VARIABLE} (or {SOURCE_VARIABLE}, e.g. "
        "openbao:secret/apps/mailer)",
        code="key_not_found",
    )


def resolve_base_url(base_url: str | None) -> str:
    return (base_url or os.environ.get(URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")


def new_idempotency_key() -> str:
    """A random key for one send, reused by its retries (never derived from the API key)."""
    return uuid.uuid4().hex


def body_of(value: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A request body: a model in its JSON form (aliases, no nulls), a mapping as given."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dict(value)


def model_of(response: httpx.Response, model: type[M], **extra: Any) -> M:
    return model.model_validate({**response.json(), **extra})


def page_of(response: httpx.Response, model: type[M], items: str, cursor: str) -> Page[M]:
    """A page from `{items: [...], cursor: "..."}` (the API has two spellings of it)."""
    data = response.json()
    return Page(
        items=[model.model_validate(item) for item in data[items]], next_cursor=data.get(cursor)
    )


def query(**values: str | int | datetime | None) -> dict[str, str | int]:
    """Query parameters without the ones not given; times in ISO 8601."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
        if value is not None
    }


def sync_sleep(seconds: float) -> None:
    time.sleep(seconds)


async def async_sleep(seconds: float) -> None:
    await anyio.sleep(seconds)


def sync_blocking(function: Callable[[], T]) -> T:
    return function()


async def async_blocking(function: Callable[[], T]) -> T:
    """Run blocking work (reading a key from a vault) off the event loop."""
    return await anyio.to_thread.run_sync(function)
