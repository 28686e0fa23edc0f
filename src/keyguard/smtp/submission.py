"""SMTP submission (`keyguard smtp`): mail clients authenticate with a Keyguard key and submit
mail through the same verification, policy, quota, usage events and outbox as HTTP.

AUTH PLAIN/LOGIN with the username `apikey` and a key as the password. The key needs the
`mail:send` scope and is checked against its CIDR allowlist with the client's address. The
sender is checked at MAIL FROM, each recipient at RCPT TO (refused one by one, as SMTP
expects), the quota and the header `From` at DATA. With a certificate the server offers
STARTTLS and refuses AUTH and mail before it; `live` mode refuses to run without one. Without
one (dev and test only), AUTH is accepted from loopback clients alone: a key never crosses a
network in clear, in any mode.

The key is verified again at every MAIL FROM and DATA, so a revocation (which reaches this
process's cache through the change feed within a second) also stops a connection that
authenticated before it. Failed AUTHs are throttled: a connection is closed (421) at its third
failure, and an address that fails too often in a minute is refused AUTH altogether for a
while (the shared rate limiter, so with Redis across processes). Their usage events go
through the batched usage writer, never one transaction each.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Final

import structlog
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from keyguard.clock import Clock
from keyguard.errors import (
    AuthenticationFailed,
    InvalidInput,
    KeyguardError,
    PermissionDenied,
    RateLimited,
)
from keyguard.keys import RawKey
from keyguard.mail import (
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS_PER_MESSAGE,
    Address,
    Caller,
    SendingService,
    TenantMailPolicy,
    check_recipient,
    check_sender,
    parse_address,
)
from keyguard.usage import NOWHERE, IpLocator, UsageRecord, UsageWriter, key_columns
from keyguard.verification import Allowed, Denied, Gate

log = structlog.get_logger("keyguard.smtp.submission")

USERNAME: Final = b"apikey"
SCOPE: Final = "mail:send"
# The third failed AUTH on one connection closes it: a client with a wrong key fails once or
# twice, a guesser many times.
AUTH_FAILURES_PER_CONNECTION: Final = 3
# Failed AUTHs one client address may make per minute (a burst of this many, then one every
# few seconds) before every AUTH from it is refused until its allowance comes back.
AUTH_FAILURES_PER_ADDRESS: Final = 20
STARTTLS_FIRST: Final = "530 5.7.0 Must issue a STARTTLS command first"
TOO_MANY_FAILURES: Final = "421 4.7.0 Too many failed authentications, closing connection"
SHUTTING_DOWN: Final = b"421 4.3.2 Service shutting down, try again later\r\n"
_MAX_BLOCKED: Final = 10_000  # remembered blocked addresses; the limiter stays authoritative


def smtp_reply(error: KeyguardError) -> tuple[int, str]:
    """The one mapping from Keyguard errors to SMTP replies (code and enhanced status)."""
    if isinstance(error, RateLimited):
        return 452, "4.7.1"
    if isinstance(error, AuthenticationFailed):
        return 535, "5.7.8"
    if isinstance(error, PermissionDenied):
        return 550, "5.7.1"
    if isinstance(error, InvalidInput) and error.code == "message_too_large":
        return 552, "5.3.4"
    if isinstance(error, InvalidInput) and error.code == "invalid_address":
        return 553, "5.1.3"
    return 554, "5.6.0"


def reply_for(error: KeyguardError) -> str:
    code, status = smtp_reply(error)
    text = " ".join(error.message.split())[:300]  # one line, whatever the message holds
    return f"{code} {status} {error.code}: {text}"


@dataclass
class Identity:
    """What an authenticated SMTP session knows: the key and the mail in progress."""

    raw: RawKey = field(repr=False)
    caller: Caller
    tenant: TenantMailPolicy | None = None
    sender: Address | None = None
    recipients: list[Address] = field(default_factory=list)


class SubmissionHandler:
    """aiosmtpd hooks; blocking work (database, verification) runs in threads."""

    def __init__(
        self,
        gate: Gate,
        sending: SendingService,
        *,
        usage: UsageWriter,
        clock: Clock,
        locator: IpLocator | None = None,
    ) -> None:
        self.gate = gate
        # Where the client is: looked up once per connection, at AUTH (the peer is fixed).
        self.locator = locator
        self.sending = sending
        self.limits = gate.limits
        self.usage = usage
        self._clock = clock
        # Addresses refused AUTH until a time (epoch seconds on `clock`), so a throttled
        # address costs no verification and no limiter round trip per attempt.
        self._blocked: dict[str, float] = {}
        # Open connections, for a graceful stop (`drain`).
        self.connections: set[KeyguardSMTP] = set()
        self.draining = False
        self.all_closed = asyncio.Event()

    # -- AUTH (called by KeyguardSMTP) ------------------------------------------------------

    async def authenticate(self, session: Session, login: bytes, password: bytes) -> AuthResult:
        ip = _peer_ip(session)
        presented = password.decode("utf-8", "replace")
        if login != USERNAME:
            presented = ""  # a wrong username is treated like an invalid key: one answer
        # AUTH alone sends nothing: the message is counted against the key's rate at MAIL FROM.
        decision = await self.gate.admit(presented, scope=SCOPE, ip=ip, spend_rate=False)
        if isinstance(decision, Denied):
            self._record_auth(decision, ip)
            return AuthResult(
                success=False,
                handled=False,
                message=f"535 5.7.8 Authentication failed: {decision.problem_code}",
            )
        where = self.locator.locate(ip) if self.locator is not None and ip else NOWHERE
        caller = Caller(
            decision.key,
            ip=ip,
            user_agent="smtp",
            method="SMTP",
            path="DATA",
            accepted_status=250,
            status_of=lambda error: smtp_reply(error)[0],
            # The session's events report the key's use before this session (its own
            # MAIL FROM and DATA re-checks are uses too, but not news).
            key_last_used_at=decision.previous_use,
            geo=where.geo,
            asn=where.asn,
        )
        return AuthResult(success=True, auth_data=Identity(RawKey(presented), caller))

    # -- the mail transaction ---------------------------------------------------------------

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        identity = _identity(session)
        try:
            sender = parse_address(address, "MAIL FROM")
            await self._recheck(identity, sender)
        except KeyguardError as error:
            return reply_for(error)
        identity.sender, identity.recipients = sender, []
        envelope.mail_from, envelope.mail_options = address, list(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        identity = _identity(session)
        if len(identity.recipients) >= MAX_RECIPIENTS_PER_MESSAGE:
            return f"452 4.5.3 at most {MAX_RECIPIENTS_PER_MESSAGE} recipients per message"
        try:
            recipient = parse_address(address, "RCPT TO")
            await self._check_recipient(identity, recipient)
        except KeyguardError as error:
            return reply_for(error)
        identity.recipients.append(recipient)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        identity = _identity(session)
        if identity.sender is None or not identity.recipients:
            return "503 5.5.1 need MAIL FROM and RCPT TO first"
        data = envelope.original_content or b""
        try:
            await self._reverify(identity, "DATA")
            queued = await asyncio.to_thread(
                self.sending.accept_raw,
                _at(identity.caller, "DATA"),
                identity.sender,
                list(identity.recipients),
                data,
            )
        except KeyguardError as error:
            self.limits.count_refusal(error)  # the quota metric, as for HTTP sends
            return reply_for(error)
        return f"250 2.0.0 OK queued as {queued.id}"

    # -- checks -------------------------------------------------------------------------------

    # -- throttling of failed AUTHs ---------------------------------------------------------

    def blocked(self, ip: str | None) -> bool:
        """True while this address is over its allowance of failed AUTHs."""
        until = self._blocked.get(ip or "")
        if until is None:
            return False
        if self._clock().timestamp() < until:
            return True
        del self._blocked[ip or ""]
        return False

    async def count_failure(self, ip: str | None) -> bool:
        """Count one failed AUTH against the client's address; True when it is now blocked."""
        address = ip or ""
        try:
            decision = await self.limits.check_async(
                f"smtp-auth:{address}", AUTH_FAILURES_PER_ADDRESS
            )
        except KeyguardError:
            return True  # the shared limiter is down and fails closed: refuse, do not guess
        if decision.allowed:
            return False
        if len(self._blocked) >= _MAX_BLOCKED:
            self._blocked.pop(next(iter(self._blocked)))
        self._blocked[address] = self._clock().timestamp() + decision.retry_after
        return True

    # -- checks -------------------------------------------------------------------------------

    async def _reverify(self, identity: Identity, path: str, *, spend_rate: bool = False) -> None:
        """The key may have been revoked (or suspended, or restricted) since AUTH; at MAIL
        FROM the message also counts against the key's request rate (the gate's answer)."""
        caller = _at(identity.caller, path)
        decision = await self.gate.admit(
            identity.raw.reveal(), scope=SCOPE, ip=caller.ip, spend_rate=spend_rate
        )
        if isinstance(decision, Denied) and decision.rate is not None:
            error = RateLimited("the key's request rate is exceeded", code="rate_limited")
            await asyncio.to_thread(self.sending.record_denial, caller, error)
            raise error
        if isinstance(decision, Denied):
            self._record_auth(decision, caller.ip, path=path)
            raise AuthenticationFailed("the key is no longer valid", code=decision.problem_code)
        identity.caller = replace(identity.caller, key=decision.key)

    async def _recheck(self, identity: Identity, sender: Address) -> None:
        """At every MAIL FROM: the key and its rate (the gate); the sender policy."""
        await self._reverify(identity, "MAIL", spend_rate=True)
        caller = _at(identity.caller, "MAIL")
        try:
            identity.tenant = await asyncio.to_thread(
                self.sending.tenant_policy, caller.key.tenant_id
            )
            check_sender(caller.key.restrictions, identity.tenant, sender)
        except KeyguardError as error:
            await asyncio.to_thread(self.sending.record_denial, caller, error, sender=sender)
            raise

    async def _check_recipient(self, identity: Identity, recipient: Address) -> None:
        caller = _at(identity.caller, "RCPT")
        try:
            check_recipient(caller.key.restrictions, recipient)
            await asyncio.to_thread(self.sending.check_not_suppressed, caller, recipient)
        except KeyguardError as error:
            await asyncio.to_thread(
                self.sending.record_denial,
                caller,
                error,
                sender=identity.sender,
                recipients=[recipient],
            )
            raise

    def _record_auth(
        self, decision: Denied | Allowed, ip: str | None, *, path: str = "AUTH"
    ) -> None:
        """Queued in the batched writer: a flood of failures must not be a flood of commits."""
        key = decision.key
        event = UsageRecord(
            **key_columns(key),
            ts=self._clock(),
            method="SMTP",
            path=path,
            outcome=decision.outcome,
            status=535,
            ip=ip,
            user_agent="smtp",
            scope=SCOPE,
            key_last_used_at=decision.previous_use,
        )
        self.usage.submit(event)  # geo and asn are added by the writer, off this path


class KeyguardSMTP(SMTP):
    """aiosmtpd's SMTP whose AUTH asks Keyguard's verifier, off the event loop.

    The stock PLAIN/LOGIN parsers call a synchronous authenticator; here that step only
    captures the credentials, and the verification is awaited afterwards.
    """

    def __init__(self, handler: SubmissionHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._keyguard = handler
        self._auth_failures = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._keyguard.connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._keyguard.connections.discard(self)
        if not self._keyguard.connections:
            self._keyguard.all_closed.set()
        super().connection_lost(error)

    @property
    def in_transaction(self) -> bool:
        """Between MAIL FROM and the end of DATA: a message a stop must let finish."""
        return self.envelope is not None and self.envelope.mail_from is not None

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command name
        await super().smtp_DATA(arg)
        if self._keyguard.draining:
            self.close_for_shutdown()  # the message is answered; take no further one

    def close_for_shutdown(self) -> None:
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(SHUTTING_DOWN)
            transport.close()

    async def smtp_AUTH(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command name
        assert self.session is not None  # noqa: S101 - commands run inside a session
        if self._tls_protocol is None and not _is_loopback(_peer_ip(self.session)):
            # Without TLS a key would cross the network in clear: only a client on this
            # machine may authenticate so (with a certificate, STARTTLS comes first anyway).
            await self.push(STARTTLS_FIRST)
            return
        if self._keyguard.blocked(_peer_ip(self.session)):
            await self._hang_up()
            return
        await super().smtp_AUTH(arg)

    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=True, handled=False, auth_data=auth_data)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd
        return await self._verify(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd
        return await self._verify(await super().auth_LOGIN(_, args))

    async def _verify(self, captured: AuthResult) -> AuthResult:
        if not captured.success or not isinstance(captured.auth_data, LoginPassword):
            return captured
        credentials: LoginPassword = captured.auth_data
        assert self.session is not None  # noqa: S101 - AUTH runs inside a session
        result = await self._keyguard.authenticate(
            self.session, credentials.login, credentials.password
        )
        if result.success:
            return result
        self._auth_failures += 1
        throttled = await self._keyguard.count_failure(_peer_ip(self.session))
        if throttled or self._auth_failures >= AUTH_FAILURES_PER_CONNECTION:
            await self._hang_up()
            return AuthResult(success=False, handled=True)
        return result

    async def _hang_up(self) -> None:
        await self.push(TOO_MANY_FAILURES)
        if self.transport is not None:
            self.transport.close()


async def start_server(
    handler: SubmissionHandler, *, host: str, port: int, tls: ssl.SSLContext | None
) -> asyncio.Server:
    """Listen on host:port in the running loop; AUTH is required for any mail."""
    loop = asyncio.get_running_loop()
    if tls is None:
        log.warning("smtp submission without TLS: only loopback clients may authenticate")
    # aiosmtpd itself sets the deprecated Session.login_data on every AUTH; we never read it.
    warnings.filterwarnings(
        "ignore", message="Session.login_data is deprecated", category=DeprecationWarning
    )
    hostname = socket.gethostname()

    def protocol() -> KeyguardSMTP:
        with warnings.catch_warnings():
            # Without TLS aiosmtpd warns about AUTH in clear; smtp_AUTH allows it on loopback
            # only, and we logged that once, above.
            warnings.simplefilter("ignore", UserWarning)
            return _smtp()

    def _smtp() -> KeyguardSMTP:
        return KeyguardSMTP(
            handler,
            hostname=hostname,
            ident="Keyguard ESMTP",
            tls_context=tls,
            require_starttls=tls is not None,
            auth_required=True,
            auth_require_tls=False,  # smtp_AUTH decides: TLS, or a loopback client
            data_size_limit=MAX_MESSAGE_BYTES,
            loop=loop,
        )

    server = await loop.create_server(protocol, host=host, port=port)
    log.info("smtp submission listening", host=host, port=bound_port(server), tls=bool(tls))
    return server


async def drain(handler: SubmissionHandler, *, grace: float) -> None:
    """After the listener has closed: 421 to idle connections, let each message under way
    finish (for at most `grace` seconds), then close whatever is left."""
    handler.draining = True
    handler.all_closed.clear()
    log.info(
        "smtp submission draining",
        connections=len(handler.connections),
        in_transaction=sum(c.in_transaction for c in handler.connections),
    )
    for connection in list(handler.connections):
        if not connection.in_transaction:
            connection.close_for_shutdown()
    if handler.connections:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(handler.all_closed.wait(), grace)
    for connection in list(handler.connections):  # past the grace: the client retries
        connection.close_for_shutdown()


def bound_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


def _identity(session: Session) -> Identity:
    identity = session.auth_data
    assert isinstance(identity, Identity)  # noqa: S101 - auth_required guarantees it
    return identity


def _at(caller: Caller, path: str) -> Caller:
    return replace(caller, path=path)


def _peer_ip(session: Session) -> str | None:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return None


def _is_loopback(ip: str | None) -> bool:
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
