"""The live event stream, GET /api/v1/monitor/stream (Server-Sent Events),
resumed with Last-Event-ID after a dropped connection."""

import json
import socket
import time
from contextlib import closing
from typing import Any, Dict, Generator, Iterator, List, Optional, Sequence, Union

from ._transport import API_PREFIX, Transport
from .errors import APIError, TransportError

#: How long a stream may stay silent before it is taken for dead. The server
#: sends a comment every 15 s.
READ_TIMEOUT = 45.0


class Event(Dict[str, Any]):
    """One event: the JSON object the stream sent (``id``, ``type``,
    ``timestamp``, ``level``, ``message``, ``task_id``, ``device_id`` and the
    fields of its type), with attribute access to the common ones."""

    @property
    def id(self) -> int:
        return int(self.get("id") or 0)

    @property
    def type(self) -> str:
        return str(self.get("type", ""))


class MonitorService:
    """client.monitor.stream(['tasks']), as in document 001."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def stream(self, types: Union[Sequence[str], str, None] = None, device_id: Optional[str] = None,
               last_event_id: Optional[int] = None, reconnect: float = 1.0,
               read_timeout: float = READ_TIMEOUT, max_reconnects: Optional[int] = None) -> Iterator[Event]:
        """Yield every event of the given types (groups devices, tasks, logs,
        pools, runs, config, or exact event types; none means all), from now
        on, or after last_event_id.

        A dropped connection (a server restart, a network cut, a silent
        stream) is reconnected after ``reconnect`` seconds with Last-Event-ID,
        so no event is missed or seen twice; max_reconnects (default: no limit)
        bounds how many times in a row. A 4xx answer (a bad filter, a refused
        key) raises at once. Stop by breaking out of the loop.
        """
        if isinstance(types, str):
            types = [t for t in types.split(",") if t]
        last = last_event_id or 0
        failures = 0
        while True:
            try:
                # closing: a consumer that stops early closes the connection at once.
                with closing(self._once(types, device_id, last, read_timeout)) as events:
                    for ev in events:
                        failures = 0
                        if ev.id > 0:
                            last = ev.id
                        yield ev
            except APIError as e:
                if 400 <= e.status < 500 and e.status != 429:
                    raise  # a bad filter or key will not get better
                err: Exception = e
            except (TransportError, OSError, ValueError) as e:
                err = e
            else:
                err = TransportError("the server ended the stream")
            failures += 1
            if max_reconnects is not None and failures > max_reconnects:
                raise TransportError("event stream: gave up after %d reconnects: %s" % (max_reconnects, err))
            time.sleep(reconnect)

    def _once(self, types: Optional[Sequence[str]], device_id: Optional[str], last: int,
              read_timeout: float) -> Generator[Event, None, None]:
        headers = {"Last-Event-ID": str(last)} if last > 0 else {}
        query = {"types": ",".join(types) if types else None, "device_id": device_id}
        resp = self._t.open("GET", API_PREFIX + "/monitor/stream", query=query, headers=headers,
                            timeout=read_timeout, accept="text/event-stream")
        try:
            yield from _parse(resp)
        except socket.timeout as e:
            raise TransportError("event stream silent for %gs" % read_timeout) from e
        finally:
            resp.close()


def _parse(lines: Any) -> Iterator[Event]:
    """Parse an SSE body: ``id:`` and ``data:`` fields, an event ended by a
    blank line, comments (``:``) ignored."""
    data: List[str] = []
    event_id = 0
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                ev = Event(json.loads("\n".join(data)))
                if event_id and "id" not in ev:
                    ev["id"] = event_id
                yield ev
            data, event_id = [], 0
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "id":
            try:
                event_id = int(value)
            except ValueError:
                event_id = 0
