"""Live page updates: one Redis pub/sub channel, published after commit, fanned out to
the Server-Sent Events streams that agents' pages hold open.

- ``publish(kind, **data)``: any process (web, worker) tells every stream server that
  something changed. Messages carry ids and kinds only, never ticket text: a page that
  hears of a change fetches it through its own access-checked view.
- ``Hub``: in a stream server (``uvicorn helpdesk.asgi:application``), one Redis
  subscription per process, shared by every stream it serves: 1,000 open pages cost
  one Redis connection and one small queue each, not 1,000 subscriptions.

Without Redis (embedded mode) or while it is down nothing is pushed and pages keep
polling, which they do anyway whenever their stream is not open. A lost message costs
at most one polling interval: the database is the truth, the stream only says "look".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

#: Pending messages per stream; a page that cannot keep up loses the oldest (its next
#: fetch shows the current state anyway).
QUEUE_SIZE = 100

_client: Any = None


def channel() -> str:
    """Per database: deployments (and test runs) sharing one Redis never hear each
    other; pub/sub channels are global to a Redis server, not per numbered database."""
    return f"{settings.LIVE_CHANNEL_PREFIX}:{connection.settings_dict['NAME']}"


def _redis() -> Any:
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(
            settings.LIVE_REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
        )
    return _client


def publish(kind: str, **data: Any) -> None:
    """Tell every open stream that ``kind`` happened (now; see ``publish_on_commit``).
    Never raises: a page that misses it refreshes on its next poll."""
    if not settings.LIVE_REDIS_URL:
        return
    try:
        _redis().publish(channel(), json.dumps({"kind": kind, **data}, separators=(",", ":")))
    except Exception:
        logger.warning("live: could not publish %s", kind, exc_info=True)


def publish_on_commit(kind: str, **data: Any) -> None:
    """``publish`` once the current transaction commits (at once outside one): a page
    that fetched before the commit would see the old data and not look again."""
    transaction.on_commit(partial(publish, kind, **data))


#: How often every stream gets a keep-alive comment (proxies drop idle streams; a
#: dead page is noticed at the next write). One timer per process, not per stream.
HEARTBEAT_SECONDS = 20.0
#: What a stream receives when it is time for a keep-alive.
KEEPALIVE = "keep-alive"


class Hub:
    """One Redis subscription per stream-server process, fanned out to its streams.

    Each message is parsed and framed once, whatever the number of streams; a stream
    only waits on its queue (no timer of its own), so a change costs each open page a
    queue hand-off and a socket write."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue] = set()
        self.tasks: list[asyncio.Task] = []
        self.ready = asyncio.Event()

    def _start(self) -> None:
        if not self.tasks or any(t.done() for t in self.tasks):
            for task in self.tasks:
                task.cancel()
            loop = asyncio.get_running_loop()
            self.tasks = [loop.create_task(self._run()), loop.create_task(self._beat())]

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            self._fan_out(KEEPALIVE)

    async def _run(self) -> None:
        import redis.asyncio as aioredis

        name = channel()
        while True:
            client = aioredis.Redis.from_url(settings.LIVE_REDIS_URL, socket_connect_timeout=1)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(name)
                self.ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        parsed = json.loads(message["data"])
                    except ValueError:
                        continue
                    self._fan_out((parsed, sse(parsed)))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("live: subscription lost; streams fall back to polling")
            finally:
                self.ready.clear()
                # Streams end (pages poll, EventSource reconnects when Redis is back):
                # they would otherwise stay open and silent.
                self._fan_out(None)
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(1)

    def _fan_out(self, item: Any) -> None:
        for queue in list(self.queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)

    async def listen(self) -> AsyncIterator[tuple[dict[str, Any], bytes] | None]:
        """``(message, frame)`` pairs; ``None`` when a keep-alive is due. Ends when
        the subscription is lost (or could not be made within 3 s)."""
        self._start()
        try:
            await asyncio.wait_for(self.ready.wait(), timeout=3)
        except TimeoutError:
            return
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.queues.add(queue)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield None if item is KEEPALIVE else item
        finally:
            self.queues.discard(queue)


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """This event loop's hub (a stream server runs one loop per process)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(loop))
    if found is None:
        found = _hubs[id(loop)] = Hub()
    return found


def sse(data: dict[str, Any] | None = None, *, event: str = "", retry_ms: int = 0) -> bytes:
    """One Server-Sent Events frame (a comment-only keep-alive without ``data``)."""
    lines = []
    if retry_ms:
        lines.append(f"retry: {retry_ms}")
    if event:
        lines.append(f"event: {event}")
    if data is None and not event:
        lines.append(": keep-alive")
    else:
        lines.append("data: " + json.dumps(data or {}, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()
