"""The RabbitMQ bus on aio-pika: confirmed persistent publishes, ordered consumers that ack after the effect.

- One robust, named connection per service (the name shows in the broker UI), with heartbeats. ``start`` waits
  for a broker that does not answer yet (up to ``connect_wait`` seconds), so a service started before its broker,
  or restarted while the broker is down, comes up when the broker does instead of crash-looping.
- One publishing channel with publisher confirms and ``mandatory``: ``publish`` returns only once the broker
  confirmed; a return raises ``Unroutable``, a nack, a confirm timeout or a lost connection ``PublishFailed``.
- One channel per subscription with an explicit prefetch; deliveries are handled one at a time in queue order
  and acked only after the handler returned. A transient failure is retried in place, with backoff, until the
  delivery limit, so a retry never lets later messages overtake it (an unconfirmed publish is retried for as long
  as it takes and never counts). Dead letters are re-published to the DLX with ``x-error`` headers (confirmed)
  before the original is acked, so a dead letter is never lost in between.
- Attempts that a crash interrupted are counted in an ``AttemptLog`` (on disk when the service has a state
  directory), so a message that crashes the service every time is dead-lettered after the delivery limit,
  whatever the broker counts.
- When the connection drops, every delivery received on it is void (its tag means nothing on the next
  connection, and the broker redelivers it): the consumer abandons the one in hand and drops those waiting.
- ``cancel`` (a graceful stop) finishes the delivery in hand and returns every other unacked one, in order. A
  consumer whose worker ends unexpectedly stops the service (``fatal``) instead of leaving its queue stalled.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    DeliveryMode,
    ExchangeType,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity, DeliveryError, PublishError

from shared.contracts import Message, encode

from .attempts import AttemptLog
from .bus import Consumer, MessageBus, Subscription
from .dispatch import Dispatcher, Verdict, dead_letter_headers
from .errors import InvalidMessage, Outcome, PublishFailed, Unroutable
from .metrics import BusMetrics, NullMetrics
from .topology import DLQ_ARGUMENTS, QueueSpec, Topology
from .urls import redact_url, with_heartbeat
from .wire import tolerate_bad_timestamps

log = logging.getLogger(__name__)

_STOP = object()
tolerate_bad_timestamps()


class BrokerUnreachable(Exception):
    """Raised by ``start`` when no broker answered within ``connect_wait`` seconds."""


def retry_backoff(tries: int) -> float:
    """Return the pause before try number ``tries + 1`` of a failed step: 50 ms doubling, at most 2 s."""
    return min(0.05 * 2.0 ** (max(tries, 1) - 1), 2.0)


class AmqpBus(MessageBus):
    """A ``MessageBus`` on a RabbitMQ broker."""

    def __init__(self, url: str, *, topology: Topology | None = None, service: str = "tradebus",
                 instance: str = "0", metrics: BusMetrics | None = None, confirm_timeout: float = 10.0,
                 heartbeat: int = 30, declare_topology: bool = True, connect_wait: float = 0.0,
                 attempts: AttemptLog | None = None) -> None:
        super().__init__()
        self.url = url
        self.topology = topology or Topology()
        self.service = service
        self.instance = instance
        self.metrics: BusMetrics = metrics or NullMetrics()
        self.confirm_timeout = confirm_timeout
        self.heartbeat = heartbeat
        self.declare_topology = declare_topology
        self.connect_wait = connect_wait
        self.attempts = attempts or AttemptLog()
        self.epoch = 0
        """Connections lost so far: a delivery received in an older epoch is void."""
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._consumers: list[_AmqpConsumer] = []
        self.declared_queues: set[str] = set()

    @property
    def connection_name(self) -> str:
        return f"tradebus-{self.service}@{self.instance}"

    @property
    def is_connected(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def start(self) -> None:
        self._connection = await self._connect()
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        if self.declare_topology:
            await self.declare_exchanges(self._channel)
        self.metrics.broker_connected.set(1)
        self._connection.close_callbacks.add(self._connection_lost)
        self._connection.reconnect_callbacks.add(lambda *_: self.metrics.broker_connected.set(1))

    async def _connect(self) -> AbstractRobustConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_wait
        tries = 0
        while True:
            try:
                return await aio_pika.connect_robust(
                    with_heartbeat(self.url, self.heartbeat),
                    client_properties={"connection_name": self.connection_name}, timeout=10)
            except CONNECTION_EXCEPTIONS as error:
                tries += 1
                if loop.time() >= deadline:
                    raise BrokerUnreachable(f"no broker answers at {redact_url(self.url)}: {error!r}") from None
                if tries == 1 or tries % 10 == 0:
                    log.warning("waiting for the broker at %s (%r)", redact_url(self.url), error)
                await asyncio.sleep(min(0.5 * tries, 5.0))

    def _connection_lost(self, *_: object) -> None:
        self.epoch += 1
        self.metrics.broker_connected.set(0)

    async def declare_exchanges(self, channel: AbstractChannel) -> None:
        """Declare the family exchanges, the partitioned market exchange and the DLX (idempotent)."""
        topo = self.topology
        for name in topo.topic_exchanges():
            self._exchanges[name] = await channel.declare_exchange(name, ExchangeType.TOPIC, durable=True)
        partitioned = await channel.declare_exchange(topo.partitioned_market_exchange, ExchangeType.HEADERS,
                                                     durable=True)
        await partitioned.bind(self._exchanges[topo.exchange("market")], routing_key="#")
        self._exchanges[topo.partitioned_market_exchange] = partitioned
        self._exchanges[topo.dead_letter_exchange] = await channel.declare_exchange(
            topo.dead_letter_exchange, ExchangeType.DIRECT, durable=True)

    async def close(self) -> None:
        for consumer in list(self._consumers):
            await consumer.cancel()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        self.metrics.broker_connected.set(0)

    async def abort(self) -> None:
        """Drop the connection without finishing anything (a crash, for tests): unacked messages return."""
        for consumer in list(self._consumers):
            await consumer.kill()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    # -- publishing --------------------------------------------------------------------------------------------
    async def publish(self, message: Message) -> None:
        exchange, routing_key = self.topology.address(message)
        headers = self.topology.publish_headers(message)
        amqp_message = aio_pika.Message(
            encode(message), message_id=str(message.message_id), type=message.type,
            content_type="application/json", timestamp=message.ts_init, delivery_mode=DeliveryMode.PERSISTENT,
            correlation_id=str(message.correlation_id), app_id=message.source, headers=headers)
        await self._publish(exchange, routing_key, amqp_message, message.type)

    async def publish_raw(self, exchange: str, routing_key: str, body: bytes, *,
                          type_name: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        amqp_message = aio_pika.Message(body, type=type_name, content_type="application/json",
                                        delivery_mode=DeliveryMode.PERSISTENT, headers=dict(headers or {}))
        await self._publish(exchange, routing_key, amqp_message, type_name or "unknown")

    async def _publish(self, exchange: str, routing_key: str, message: aio_pika.Message, type_name: str) -> None:
        target = self._exchanges.get(exchange) or await self._existing_exchange(exchange)
        started = time.perf_counter()
        try:
            await target.publish(message, routing_key, mandatory=True, timeout=self.confirm_timeout)
        except PublishError as error:
            self.metrics.publish_failures(type_name, "unroutable").inc()
            raise Unroutable(f"unroutable: broker returned {routing_key!r} from {exchange!r}") from error
        except DeliveryError as error:
            self.metrics.publish_failures(type_name, "nacked").inc()
            raise PublishFailed(f"broker nacked {routing_key!r} on {exchange!r}") from error
        except TimeoutError as error:
            self.metrics.publish_failures(type_name, "timeout").inc()
            raise PublishFailed(f"no confirm for {routing_key!r} within {self.confirm_timeout}s") from error
        except CONNECTION_EXCEPTIONS as error:
            self.metrics.publish_failures(type_name, "connection").inc()
            raise PublishFailed(f"connection lost publishing {routing_key!r}: {error!r}") from error
        self.metrics.confirm_latency.observe(time.perf_counter() - started)
        self.metrics.published(type_name).inc()

    async def _existing_exchange(self, name: str) -> AbstractExchange:
        """Return exchange ``name`` on the publishing channel once a throwaway channel saw that it exists.

        Publishing to a missing exchange makes the broker close the channel, so probe on another one: the
        publishing channel stays open for everything else.
        """
        if self._connection is None or self._channel is None:
            raise PublishFailed("bus is not started")
        probe = await self._connection.channel(publisher_confirms=False)
        try:
            await probe.declare_exchange(name, passive=True)
        except ChannelNotFoundEntity as error:
            raise Unroutable(f"unroutable: exchange {name!r} does not exist") from error
        finally:
            await probe.close()  # even when the broker closed it: a robust channel would reopen itself
        exchange = self._exchanges[name] = await self._channel.get_exchange(name, ensure=False)
        return exchange

    # -- consuming ---------------------------------------------------------------------------------------------
    async def declare(self, spec: QueueSpec, channel: AbstractChannel | None = None) -> AbstractQueue:
        """Declare ``spec``'s dead-letter queue, the queue itself and its bindings (idempotent)."""
        channel = channel or self._channel
        assert channel is not None, "bus is not started"
        per_instance = spec.mode == "per_instance"
        if spec.dlq is not None and self.declare_topology:
            dlq = await channel.declare_queue(spec.dlq, durable=True, arguments=DLQ_ARGUMENTS)
            await dlq.bind(spec.dead_letter_exchange, routing_key=spec.dead_letter_key)
            self.declared_queues.add(spec.dlq)
        queue = await channel.declare_queue(spec.name, durable=spec.durable, exclusive=per_instance,
                                            auto_delete=per_instance, arguments=spec.arguments())
        self.declared_queues.add(spec.name)
        for binding in spec.bindings:
            if binding.headers:
                await queue.bind(binding.exchange, routing_key="", arguments=dict(binding.headers))
            else:
                await queue.bind(binding.exchange, routing_key=binding.pattern)
        return queue

    async def subscribe(self, subscription: Subscription) -> Consumer:
        assert self._connection is not None, "bus is not started"
        channel = await self._connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=subscription.prefetch)
        spec = subscription.queue
        if self.declare_topology or spec.mode == "per_instance":
            queue = await self.declare(spec, channel)
        else:  # the broker's definitions hold the topology; a passive check needs no configure right
            queue = await channel.get_queue(spec.name, ensure=True)
        consumer = _AmqpConsumer(self, channel, queue, spec, Dispatcher(subscription, self.metrics))
        await consumer.start()
        self._consumers.append(consumer)
        return consumer

    async def dead_letter(self, incoming: AbstractIncomingMessage, verdict: Verdict, spec: QueueSpec,
                          attempts: int) -> None:
        """Publish ``incoming`` to the DLX with headers saying why; raise ``PublishFailed`` if not confirmed."""
        headers = dead_letter_headers(verdict, spec.name, incoming.exchange or "", incoming.routing_key or "",
                                      attempts, incoming.headers)
        letter = aio_pika.Message(
            incoming.body, headers=headers, message_id=incoming.message_id, type=incoming.type,
            content_type=incoming.content_type, correlation_id=incoming.correlation_id, app_id=incoming.app_id,
            timestamp=incoming.timestamp, delivery_mode=DeliveryMode.PERSISTENT)
        await self._publish(self.topology.dead_letter_exchange, spec.dead_letter_key, letter, verdict.type_name)
        self.metrics.dead_lettered(verdict.type_name, verdict.reason_label).inc()
        log.warning("dead-lettered %s from %s: %s", verdict.type_name, spec.name, verdict.reason)


class _AmqpConsumer(Consumer):
    """Feed deliveries through one worker task so a queue's messages are handled strictly in order."""

    def __init__(self, bus: AmqpBus, channel: AbstractChannel, queue: AbstractQueue, spec: QueueSpec,
                 dispatcher: Dispatcher) -> None:
        self.bus = bus
        self.channel = channel
        self.queue = queue
        self.spec = spec
        self.dispatcher = dispatcher
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._tag: str | None = None
        self._worker: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name=f"consume:{self.spec.name}")
        self._worker.add_done_callback(self._worker_ended)
        self._tag = await self.queue.consume(self._receive, no_ack=False)

    def _worker_ended(self, worker: asyncio.Task[None]) -> None:
        if not worker.cancelled() and worker.exception() is not None:
            log.critical("the consumer of %s died", self.spec.name, exc_info=worker.exception())
            self.bus.crash(worker.exception())  # type: ignore[arg-type]

    async def _receive(self, incoming: AbstractIncomingMessage) -> None:
        self._inbox.put_nowait((self.bus.epoch, incoming))

    async def cancel(self) -> None:
        # set before any await: the worker must not start another delivery once a stop was asked for
        self._stopping = True
        if self in self.bus._consumers:
            self.bus._consumers.remove(self)
        if self._tag is not None and not self.channel.is_closed:
            try:
                await self.queue.cancel(self._tag)
            except CONNECTION_EXCEPTIONS:
                pass
        self._inbox.put_nowait(_STOP)
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
        await self._return_unhandled()
        if not self.channel.is_closed:
            await self.channel.close()

    async def kill(self) -> None:
        if self in self.bus._consumers:
            self.bus._consumers.remove(self)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if not self.channel.is_closed:
            await self.channel.close()

    async def _return_unhandled(self) -> None:
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if item is not _STOP and item[0] == self.bus.epoch:
                await _settle_quietly(item[1].nack(requeue=True))

    async def _work(self) -> None:
        metrics = self.bus.metrics
        while (item := await self._inbox.get()) is not _STOP:
            epoch, incoming = item
            if epoch != self.bus.epoch:
                continue  # received on a lost connection: the broker redelivers it on the new one
            if self._stopping:
                await _settle_quietly(incoming.nack(requeue=True))
                continue
            metrics.in_flight.inc()
            try:
                if not await self._process(epoch, incoming):
                    return
            finally:
                metrics.in_flight.dec()

    def _current(self, epoch: int) -> bool:
        return epoch == self.bus.epoch

    async def _process(self, epoch: int, incoming: AbstractIncomingMessage) -> bool:
        """Handle one delivery and settle it; return ``False`` when the service must stop."""
        key = f"{self.spec.name}/{incoming.message_id or hashlib.sha1(incoming.body).hexdigest()}"
        log_ = self.bus.attempts
        # a redelivery with no record: the first delivery (never recorded) was an attempt
        unsettled = log_.unsettled(key) or (1 if incoming.redelivered else 0)
        attempts = unsettled + 1
        try:
            message = self.dispatcher.decode(incoming.type, incoming.body)
        except InvalidMessage as error:
            verdict = self.dispatcher.reject(incoming.type, error)
        else:
            if unsettled >= self.spec.delivery_limit:
                attempts = unsettled
                verdict = self.dispatcher.exhausted(message.type, attempts, "the service died while handling it",
                                                     stop=False)
            else:
                if unsettled:
                    log_.begin(key, attempts)  # from here on, a crash counts as an attempt
                verdict, attempts = await self._handle(epoch, message, attempts)
        if not self._current(epoch):
            log.info("connection lost while handling %s from %s; the broker redelivers it",
                     verdict.type_name or "a message", self.spec.name)
            log_.settle(key)
            return True
        outcome = verdict.outcome
        if outcome is Outcome.ACK:
            await _settle_quietly(incoming.ack())
        elif outcome is Outcome.RETRY:  # stopping: the next consumer gets it, before anything after it
            await _settle_quietly(incoming.nack(requeue=True))
        elif outcome is Outcome.DEAD_LETTER:
            if not await self._dead_letter(epoch, incoming, verdict, attempts):
                log_.settle(key)
                return True  # stopping, or the connection was lost: the message stays on its queue
            await _settle_quietly(incoming.ack())
            if verdict.stop:
                log_.settle(key)
                self.bus.crash(verdict.error or RuntimeError(verdict.reason))
                return False
        else:
            if key not in log_:
                log_.begin(key, attempts)
            log.critical("stopping: %s on %s failed: %s", verdict.type_name, self.spec.name, verdict.reason,
                         exc_info=verdict.error)
            self.bus.crash(verdict.error or RuntimeError(verdict.reason))
            return False
        log_.settle(key)
        return True

    async def _handle(self, epoch: int, message: Message, attempts: int) -> tuple[Verdict, int]:
        """Run the handler, retrying in place with backoff while the failure is transient; return the verdict
        and the number of the last attempt."""
        verdict = await self.dispatcher.handle(message, attempts)
        tries = 1
        # retry here rather than requeue: a requeued message would go behind those already prefetched
        while verdict.outcome is Outcome.RETRY and not self._stopping and self._current(epoch):
            if tries == 1 or tries % 10 == 0:
                log.warning("retrying %s on %s (attempt %d): %s", verdict.type_name, self.spec.name, attempts,
                            verdict.reason)
            await asyncio.sleep(retry_backoff(tries))
            tries += 1
            if verdict.counted:
                attempts += 1
            verdict = await self.dispatcher.handle(message, attempts)
        return verdict, attempts

    async def _dead_letter(self, epoch: int, incoming: AbstractIncomingMessage, verdict: Verdict,
                           attempts: int) -> bool:
        """Publish the dead letter, retrying with backoff; return ``False`` if it could not be (stop or lost)."""
        tries = 0
        while True:
            try:
                await self.bus.dead_letter(incoming, verdict, self.spec, attempts)
                return True
            except PublishFailed as error:
                if self._stopping or not self._current(epoch):
                    return False
                tries += 1
                if tries == 1 or tries % 10 == 0:
                    log.error("could not dead-letter %s from %s (try %d): %s", verdict.type_name, self.spec.name,
                              tries, error)
                await asyncio.sleep(retry_backoff(tries))


async def _settle_quietly(settle: Any) -> None:
    # after a reconnect the old delivery tag is void: the broker redelivers the message, handlers are idempotent
    try:
        await settle
    except CONNECTION_EXCEPTIONS as error:
        log.warning("could not settle a delivery (%r); the broker will redeliver it", error)
