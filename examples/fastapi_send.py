"""A FastAPI app that sends mail through Keyguard, with its key from the environment.

    export KEYGUARD_API_KEY=kg_live_…   # or KEYGUARD_API_KEY_SOURCE=openbao:secret/apps/shop
    export KEYGUARD_BASE_URL=https://keyguard.internal
    uvicorn fastapi_send:app

One client for the process, opened and closed by the lifespan; the key never appears in code,
logs or errors, and a rotated key is re-read from its source by the client itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from keyguard_client import AsyncKeyguard, InvalidRequest, PermissionDenied, RateLimited
from pydantic import BaseModel

SENDER = "orders@brand.example"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with AsyncKeyguard.from_env() as keyguard:
        app.state.keyguard = keyguard
        yield


app = FastAPI(lifespan=lifespan)


class Order(BaseModel):
    id: str
    email: str


class Receipt(BaseModel):
    message_id: str | None


@app.post("/orders", status_code=201)
async def place_order(order: Order, request: Request) -> Receipt:
    keyguard: AsyncKeyguard = request.app.state.keyguard
    try:
        sent = await keyguard.mail.send(
            {
                "from": SENDER,
                "to": [order.email],
                "subject": f"Order {order.id} confirmed",
                "text": f"Thank you! Your order {order.id} is on its way.",
            },
            idempotency_key=f"order-{order.id}",  # a retried request never mails twice
        )
    except RateLimited as error:
        raise HTTPException(503, "mail is busy, try again", {"Retry-After": "60"}) from error
    except (InvalidRequest, PermissionDenied) as error:
        raise HTTPException(502, f"mail refused: {error.code}") from error
    return Receipt(message_id=sent.messages[0].id)
