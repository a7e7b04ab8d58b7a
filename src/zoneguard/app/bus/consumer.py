"""The bus consumer: hands each message to its handler, retries failures with backoff,
moves a message that failed every attempt to the failure queue.

A handler raising means "try again later" (the worker is down, the database hiccuped);
a handler that knows the outcome is final (the worker refused the order) records it and
returns normally. A message nobody can handle (unknown type, malformed body) goes to the
failure queue at once: retrying would not change it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Protocol

from pydantic import ValidationError

from zoneguard.app.bus.retry import RetryPolicy
from zoneguard.app.bus.transport import Delivery, Transport
from zoneguard.app.logs import escaped, orders_log
from zoneguard.app.messages import BusMessage, decode_message

log = logging.getLogger(__name__)


class MessageHandler(Protocol):
    async def handle(self, message: BusMessage) -> None:
        """Do the work; raise to have it retried."""

    async def give_up(self, message: BusMessage, error: str) -> None:
        """Every attempt failed: note it on the order (the message goes to the failure
        queue)."""


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Consumer:
    def __init__(
        self,
        transport: Transport,
        handlers: Mapping[str, MessageHandler],
        policy: RetryPolicy,
        *,
        concurrency: int = 4,
    ) -> None:
        self.transport = transport
        self.handlers = dict(handlers)
        self.policy = policy
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self.handled = 0
        self.retried = 0
        self.failed = 0

    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking messages; running handlers get ``grace_s`` to finish, then are
        cancelled and their messages given back."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def _run(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                delivery = await self.transport.receive()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except Exception:
                self._slots.release()
                log.exception("bus: receiving failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            task = asyncio.get_running_loop().create_task(self._handle_then_free(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle_then_free(self, delivery: Delivery) -> None:
        try:
            await self.handle(delivery)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(delivery.release())
            raise
        except Exception:
            log.exception("bus: handling a message failed unexpectedly; giving it back")
            with contextlib.suppress(Exception):
                await asyncio.shield(delivery.release())
        finally:
            self._slots.release()

    async def handle(self, delivery: Delivery) -> None:
        """Handle one delivery and settle it (ack, retry, or the failure queue)."""
        envelope = delivery.envelope
        attempt = envelope.attempts + 1
        where = {"message_type": envelope.message_type, "message_uuid": envelope.message_uuid}
        handler = self.handlers.get(envelope.message_type)
        if handler is None:
            await self._to_failure_queue(delivery, attempt, "no handler for this message type")
            return
        try:
            message = decode_message(envelope.message_type, envelope.body)
        except (KeyError, ValidationError) as exc:
            await self._to_failure_queue(delivery, attempt, f"malformed message: {exc}")
            return
        try:
            await handler.handle(message)
        except Exception as exc:
            error = describe(exc)
            if self.policy.gives_up_after(attempt):
                try:
                    await handler.give_up(message, error)
                except Exception:
                    log.exception("bus: recording the give-up failed")
                await self._to_failure_queue(delivery, attempt, error)
                return
            delay = self.policy.delay_s(attempt)
            self.retried += 1
            orders_log.warning(
                "%s attempt %d failed, retry in %.2f s: %s",
                envelope.message_type,
                attempt,
                delay,
                escaped(error),
                extra={**where, "order_id": getattr(message, "order_id", None)},
            )
            await delivery.retry(delay, error)
            return
        self.handled += 1
        await delivery.ack()

    async def _to_failure_queue(self, delivery: Delivery, attempts: int, error: str) -> None:
        envelope = delivery.envelope
        self.failed += 1
        orders_log.error(
            "%s moved to the failure queue after %d attempt(s): %s",
            envelope.message_type,
            attempts,
            escaped(error),
            extra={
                "message_uuid": envelope.message_uuid,
                "order_id": envelope.body.get("order_id"),
            },
        )
        await delivery.fail(attempts, error)
