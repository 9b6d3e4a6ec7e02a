"""The Python worker library beside Go workers, on a real server: handlers,
logs, failures, cancellation, timeouts, pings, drains, re-registration after
removal, and a kill -9 whose tasks complete on another worker."""

import os
import signal
import subprocess
import sys

import pytest

from conftest import GoWorker, online, python_env, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


class PyWorker:
    def __init__(self, cluster, name, queues="FifoQ", concurrency=2):
        self.name = name
        self.log_path = os.path.join(cluster.server.workdir, "pyworker-%s.log" % name)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "pyworker.py"), cluster.agent_url, name,
                                      queues, str(concurrency)], stdout=log, stderr=subprocess.STDOUT,
                                     env=python_env())
        log.close()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def spawn(cluster):
    started = []

    def start(name, **kw):
        w = PyWorker(cluster, name, **kw)
        started.append(w)
        c = cluster.client()
        try:
            wait_until(lambda: online(c, name), 30, what="Python worker %s online" % name)
        except AssertionError:
            raise AssertionError(w.log())
        return w
    yield start
    for w in started:
        w.stop()


def test_python_worker_beside_go_workers(cluster, client, spawn):
    spawn("py-1")
    d = client.devices.get("py-1")
    assert "resize-image" in d["task_types"] and "echo" in d["task_types"]
    assert d["platform"]["python_version"] and d["role"] == "mobile" and d["labels"] == {"lang": "python"}
    assert d["resources"]["cpu_cores"] == os.cpu_count() and d["resources"]["memory_total_gb"] > 0
    assert d["resources"]["storage_total_gb"] > 0 and "python" in d["detailed_info"]["capabilities"]
    images = [client.tasks.submit("resize-image", {"path": "img%d.png" % i, "size": [800, 600]}) for i in range(4)]
    echoes = [client.tasks.submit("echo", {"message": "e%d" % i, "repeat": 2}) for i in range(16)]
    for i, tid in enumerate(images):
        t = client.tasks.wait(tid, timeout=30)
        assert t["status"] == "completed" and t["device_id"] == "py-1"
        assert t["result"]["data"] == {"path": "img%d.png" % i, "width": 400, "height": 300, "by": "py-1"}
        assert [l["message"] for l in client.tasks.logs(tid)["logs"]] == ["resizing img%d.png" % i]
    ran_on = set()
    for i, tid in enumerate(echoes):
        t = client.tasks.wait(tid, timeout=30)
        assert t["status"] == "completed" and t["result"]["output"] == "e%d\ne%d" % (i, i)
        ran_on.add(t["device_id"])
    assert ran_on <= {"py-1", "gw-a", "gw-b"}
    p = client.devices.ping("py-1", timeout=2, count=2)
    assert p["reachable"] is True and p["packet_loss"] == 0


def test_failures_timeouts_and_cancels(cluster, client, spawn):
    spawn("py-2", queues="q-py-2")
    t = client.tasks.wait(client.tasks.submit("py-fail", {}, queue="q-py-2"), timeout=30)
    assert t["status"] == "failed" and t["result"]["exit_code"] == 7 and t["result"]["output"] == "partial"
    assert "bad input" in (t.get("error") or t["result"].get("error"))
    t = client.tasks.wait(client.tasks.submit("py-crash", {}, queue="q-py-2"), timeout=30)
    assert t["status"] == "failed" and "ValueError: boom" in (t.get("error") or t["result"]["error"])
    t = client.tasks.wait(client.tasks.submit("py-slow", {"steps": 50}, queue="q-py-2", timeout=1), timeout=30)
    assert t["status"] == "failed" and t["result"]["exit_code"] == 124
    t = client.tasks.wait(client.tasks.submit("py-shell", {"command": "echo one; echo two >&2"}, queue="q-py-2"),
                          timeout=30)
    assert t["status"] == "completed" and t["result"]["output"] == "one"
    assert sorted(l["stream"] + ":" + l["message"] for l in client.tasks.logs(t["task_id"])["logs"]) == \
        ["stderr:two", "stdout:one"]
    # Cancelling a running handler, and a running program: both stop, the worker goes on.
    slow = client.tasks.submit("py-slow", {"steps": 500}, queue="q-py-2")
    # A duration no other process on the machine has, so `ps` finds only this one.
    sleeper = "sleep 60.%d" % os.getpid()
    prog = client.tasks.submit("py-shell", {"command": sleeper}, queue="q-py-2")
    wait_until(lambda: all(client.tasks.get(x)["status"] == "running" for x in (slow, prog)), 20, what="running")
    wait_until(lambda: client.tasks.logs(slow)["logs"], 10, what="a log line")
    for x in (slow, prog):
        assert client.tasks.cancel(x)["was_running"] is True
    for x in (slow, prog):
        assert client.tasks.wait(x, timeout=10)["status"] == "cancelled"
    wait_until(lambda: sleeper not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                                     text=True).stdout, 10, what=sleeper + " killed")
    t = client.tasks.wait(client.tasks.submit("py-slow", {"steps": 2}, queue="q-py-2"), timeout=30)
    assert t["status"] == "completed" and t["result"] == {"output": "slow done by py-2", "exit_code": 0,
                                                          "data": {"steps": 2}}
    # A handler that ignores its timeout is reported failed on time all the same.
    stuck = client.tasks.submit("py-stuck", {"seconds": 60}, queue="q-py-2", timeout=1)
    t = client.tasks.wait(stuck, timeout=20)
    assert t["status"] == "failed" and t["result"]["exit_code"] == 124


def test_progress(cluster, client, spawn):
    """Task.progress and a program's "::progress" lines reach the task's answer;
    the last report of an attempt is sent before its result, and the lines are
    neither logged nor output."""
    spawn("py-4", queues="q-py-4")
    t = client.tasks.wait(client.tasks.submit("py-slow", {"steps": 3, "pause": 0.1}, queue="q-py-4"), timeout=30)
    assert t["status"] == "completed"
    p = client.tasks.get(t["task_id"])["progress"]
    assert p["fraction"] == 1 and p["percent"] == 100 and p["message"] == "step 3 of 3" and p["attempt"] == 1
    cmd = "echo one; echo '::progress 0.25 a quarter'; sleep 1.2; echo '::progress 60%' >&2; echo two"
    t = client.tasks.wait(client.tasks.submit("py-shell", {"command": cmd}, queue="q-py-4"), timeout=30)
    assert t["status"] == "completed" and t["result"]["output"] == "one\ntwo"
    assert [l["message"] for l in client.tasks.logs(t["task_id"])["logs"]] == ["one", "two"]
    assert client.tasks.get(t["task_id"])["progress"]["fraction"] == 0.6


def test_drain_on_sigterm(cluster, client, spawn):
    w = spawn("py-3", queues="q-py-3")
    tid = client.tasks.submit("py-slow", {"steps": 10, "pause": 0.2}, queue="q-py-3")
    wait_until(lambda: client.tasks.get(tid)["status"] == "running", 20, what="running")
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(30) == 0, w.log()
    t = client.tasks.get(tid)
    assert t["status"] == "completed" and t["result"]["output"] == "slow done by py-3"
    assert client.devices.get("py-3")["status"] == "offline"


def test_registers_again_after_removal(cluster, client, spawn):
    spawn("py-4", queues="q-py-4")
    assert client.devices.remove("py-4", force=True)["removed_device"] == "py-4"
    # The server may hand out the name again or a variant of it (py-4-2).
    back = wait_until(lambda: [d["id"] for d in client.devices.list(status="online") if d["id"].startswith("py-4")],
                      30, what="py-4 registered again")
    t = client.tasks.wait(client.tasks.submit("echo", {"message": "back"}, queue="q-py-4"), timeout=30)
    assert t["status"] == "completed" and t["device_id"] == back[0]


def test_kill_9_tasks_complete_elsewhere(drover_bin, cluster, client, spawn):
    w = spawn("py-kill", queues="q-kill", concurrency=2)
    tids = [client.tasks.submit("sleep", {"seconds": 3}, queue="q-kill", max_retries=3, retry_backoff_seconds=0.1)
            for _ in range(2)]

    def running_on_python():
        ts = [client.tasks.get(x) for x in tids]
        return all(t["status"] == "running" and t["device_id"] == "py-kill" for t in ts)
    wait_until(running_on_python, 30, what="both tasks running on the Python worker")
    w.proc.send_signal(signal.SIGKILL)
    w.proc.wait()
    go = GoWorker(drover_bin, cluster.server, "gw-kill", "--queues", "q-kill")
    try:
        for x in tids:
            t = client.tasks.wait(x, timeout=60)
            assert t["status"] == "completed" and t["device_id"] == "gw-kill" and t["attempt"] == 2, t
    finally:
        go.stop()


def test_in_process_worker_with_a_join_token(auth_cluster, tmp_path):
    """The library in a thread of the caller, joining a server with --auth by a
    join token, keeping its identity in a state file, and drained by drain()."""
    import threading

    from conftest import ADMIN_KEY
    from retire_cluster_client.worker import Worker

    admin = auth_cluster.client(api_key=ADMIN_KEY)
    join = admin.keys.create("py join", join=True, uses=2)
    state = str(tmp_path / "state.json")

    def start():
        w = Worker(auth_cluster.agent_url, token=join["token"], name="py-auth", queues=["q-auth"], concurrency=1,
                   state_file=state)

        @w.handle("greet")
        def greet(task):
            return "hello " + task.payload["who"]
        t = threading.Thread(target=w.run, kwargs={"install_signals": False}, daemon=True)
        t.start()
        wait_until(lambda: online(admin, "py-auth"), 30, what="py-auth online")
        return w, t

    w, t = start()
    tid = admin.tasks.submit("greet", {"who": "phone"}, queue="q-auth")
    assert admin.tasks.wait(tid, timeout=30)["result"]["output"] == "hello phone"
    w.drain()
    t.join(30)
    assert not t.is_alive()
    assert admin.devices.get("py-auth")["status"] == "offline"
    # Back with the saved credential: the same device id, without a new join.
    w, t = start()
    assert [d["id"] for d in admin.devices.list() if d["id"].startswith("py-auth")] == ["py-auth"]
    w.stop()
    t.join(30)
    assert not t.is_alive()


def test_module_worker(cluster, client):
    """python -m retire_cluster_client.worker: the built-in types, drained by SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "retire_cluster_client.worker", "--server", cluster.agent_url,
                             "--name", "py-mod", "--queues", "q-mod", "--concurrency", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=python_env())
    try:
        wait_until(lambda: online(client, "py-mod"), 30, what="py-mod online")
        t = client.tasks.wait(client.tasks.submit("sleep", {"seconds": 0.2}, queue="q-mod"), timeout=30)
        assert t["status"] == "completed" and t["device_id"] == "py-mod"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
