"""The event stream: filters, and resuming with Last-Event-ID after the server
dropped the connection (a restart)."""

import queue
import signal
import threading
import time

from conftest import GoWorker, Server, online, wait_until


def collect(stream, into, stop):
    try:
        for ev in stream:
            into.put(ev)
            if stop.is_set():
                return
    except Exception as e:  # surfaces in the test through the queue
        into.put(e)


def next_event(q, pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no matching event within %gs" % timeout
        try:
            ev = q.get(timeout=left)
        except queue.Empty:
            continue
        if isinstance(ev, Exception):
            raise ev
        if pred(ev):
            return ev


def test_stream_tasks_only(client):
    q, stop = queue.Queue(), threading.Event()
    t = threading.Thread(target=collect, args=(client.monitor.stream(["tasks"]), q, stop), daemon=True)
    t.start()
    # The stream starts with the events from now on: submit until one is seen.
    deadline = time.monotonic() + 20
    while True:
        tid = client.tasks.submit("echo", {"message": "streamed"})
        try:
            ev = next_event(q, lambda e: e.get("task_id") == tid and e.type == "task_completed", timeout=3)
            break
        except AssertionError:
            assert time.monotonic() < deadline
    assert ev.id > 0 and ev["device_id"] in ("gw-a", "gw-b")
    stop.set()
    got = []
    while not q.empty():
        got.append(q.get())
    assert all(e.type.startswith("task_") for e in got if not isinstance(e, Exception))


def test_stream_from_an_event_id_and_device_filter(client):
    tid = client.tasks.submit("echo", {"message": "replayed"}, device_id="gw-b")
    client.tasks.wait(tid, timeout=20)
    # The event log is written in batches (a few milliseconds behind the task).
    entry = wait_until(lambda: client.logs.list(task_id=tid, order="asc", limit=1), 10, what="the task's events")[0]
    for ev in client.monitor.stream("tasks", device_id="gw-b", last_event_id=entry["id"] - 1):
        assert ev.get("device_id") in (None, "gw-b")
        if ev.get("task_id") == tid and ev.type == "task_completed":
            break


def test_stream_resumes_after_server_restart(drover_bin, tmp_path):
    srv = Server(drover_bin, str(tmp_path), [])
    srv.start()
    w = GoWorker(drover_bin, srv, "gw-resume")
    try:
        c = srv.client()
        wait_until(lambda: online(c, "gw-resume"), 30, what="worker online")
        q, stop = queue.Queue(), threading.Event()
        stream = c.monitor.stream(["tasks"], reconnect=3.0, read_timeout=10)
        threading.Thread(target=collect, args=(stream, q, stop), daemon=True).start()
        deadline = time.monotonic() + 20
        while True:
            before = c.tasks.submit("echo", {"message": "before"})
            try:
                first = next_event(q, lambda e: e.get("task_id") == before and e.type == "task_completed", 3)
                break
            except AssertionError:
                assert time.monotonic() < deadline
        # Drop the connection: restart the server on the same ports and store.
        srv.stop(signal.SIGTERM)
        srv.start()
        # Submitted while the client waits to reconnect: only a resume from
        # Last-Event-ID can deliver these events, since a fresh stream starts from now.
        during = c.tasks.submit("echo", {"message": "during"})
        ev = next_event(q, lambda e: e.get("task_id") == during and e.type == "task_submitted", 30)
        assert ev.id > first.id
        stop.set()
    finally:
        w.stop()
        srv.stop()
