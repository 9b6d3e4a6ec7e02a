"""A worker in Python: register with a Drover server's worker protocol
(docs/worker-protocol.md), heartbeat, lease tasks, run a handler per task
type, stream log lines, report results, and obey stop orders and drains.

    from retire_cluster_client.worker import Worker

    worker = Worker("http://192.168.1.100:8080", queues=["FifoQ"])

    @worker.handle("resize-image")
    def resize(task):
        task.log("resizing %s" % task.payload["path"])
        return "done"            # the task's output

    worker.run()                 # until SIGTERM or Ctrl-C, then drains

A handler gets a Task and returns its output (a str), any other JSON value
(it becomes result.data), a Result, or None. Raising fails the task
(result.error is the exception; TaskFailed sets the exit code). Python
cannot kill a thread: a handler that runs long checks ``task.cancelled`` or
waits with ``task.sleep()``, and runs programs with ``task.run()``, which
kills the program's whole process group when the task is cancelled, times
out or its lease is lost. The built-in types echo and sleep are handled
unless ``builtins=False``.
"""

import json
import logging
import os
import random
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._resources import Sampler, interfaces, platform_info
from ._transport import api_error
from .errors import APIError, TransportError

__all__ = ["Worker", "Task", "Result", "TaskFailed", "TaskCancelled", "Handler"]

log = logging.getLogger("retire_cluster_client.worker")

#: Exit code of a timed-out task, as GNU timeout(1) uses.
EXIT_TIMEOUT = 124


class TaskFailed(Exception):
    """Raise from a handler to fail the task with an exit code and output."""

    def __init__(self, message: str, exit_code: int = 1, output: str = "", data: Any = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code or 1
        self.output = output
        self.data = data


class TaskCancelled(Exception):
    """Raised by Task.sleep and Task.run when the attempt must stop: the task
    was cancelled, timed out, its lease was lost, or the worker stops."""


class Result:
    """A handler's full answer: output text, exit code and JSON data."""

    def __init__(self, output: str = "", data: Any = None, exit_code: int = 0) -> None:
        self.output = output
        self.data = data
        self.exit_code = exit_code


class Task:
    """One attempt of a task, as a handler sees it."""

    def __init__(self, leased: Mapping[str, Any], worker: "Worker") -> None:
        self.id: str = leased["task_id"]
        self.type: str = leased["task_type"]
        self.payload: Any = leased.get("payload")
        self.epoch: int = int(leased["epoch"])
        self.attempt: int = int(leased.get("attempt") or 1)
        self.queue: str = leased.get("queue") or ""
        self.priority: str = leased.get("priority") or ""
        self.timeout: int = int(leased.get("timeout") or 0)
        #: Set when the attempt must stop; stop_reason says why.
        self.cancelled = threading.Event()
        self.stop_reason = ""
        self._worker = worker

    @property
    def idempotency_key(self) -> str:
        """"task_id:attempt", to hand to an external system so that a re-run is recognised."""
        return "%s:%d" % (self.id, self.attempt)

    def log(self, message: str, stream: str = "stdout") -> None:
        """Write a line (or several) to the task's log; it reaches the server in
        the background, before the result."""
        for line in str(message).splitlines() or [""]:
            self._worker._log_line(self, stream, line)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the attempt got: the fraction done, 0 to 1 (clamped),
        and a short message. Reports are coalesced: the server gets the latest
        about once a second, so calling it on every item of a loop is cheap."""
        self._worker._progress_report(self, fraction, message)

    def sleep(self, seconds: float) -> None:
        """Sleep, or raise TaskCancelled as soon as the attempt must stop."""
        if self.cancelled.wait(seconds):
            raise TaskCancelled(self.stop_reason)

    def check(self) -> None:
        """Raise TaskCancelled if the attempt must stop."""
        if self.cancelled.is_set():
            raise TaskCancelled(self.stop_reason)

    def run(self, args: Union[str, Sequence[str]], *, shell: bool = False, env: Optional[Mapping[str, str]] = None,
            cwd: Optional[str] = None) -> "subprocess.CompletedProcess[str]":
        """Run a program in a process group of its own, its stdout and stderr
        lines going to the task log, and return it finished (returncode,
        stdout, stderr). Its whole group is killed, and TaskCancelled raised,
        when the attempt must stop."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.Popen(args, shell=shell, env=full_env, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)
        out: Dict[str, List[str]] = {"stdout": [], "stderr": []}

        def pump(name: str, pipe: Any) -> None:
            for line in pipe:
                line = line.rstrip("\n")
                directive = _progress_directive(line)
                if directive is not None:  # "::progress 0.4 copying": a report, not output
                    self.progress(*directive)
                    continue
                out[name].append(line)
                self.log(line, stream=name)

        pumps = [threading.Thread(target=pump, args=(n, p), daemon=True)
                 for n, p in (("stdout", proc.stdout), ("stderr", proc.stderr))]
        for p in pumps:
            p.start()
        while proc.poll() is None:
            if self.cancelled.wait(0.1):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.wait()
                raise TaskCancelled(self.stop_reason)
        for p in pumps:
            p.join(5)
        return subprocess.CompletedProcess(args, proc.returncode, "\n".join(out["stdout"]), "\n".join(out["stderr"]))

    def _stop(self, reason: str) -> None:
        if not self.cancelled.is_set():
            self.stop_reason = reason
            self.cancelled.set()


Handler = Callable[[Task], Any]


def _echo(task: Task) -> str:
    p = task.payload if isinstance(task.payload, dict) else {}
    msg = str(p.get("message", ""))
    repeat = p.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1 or repeat > 10000:
        raise TaskFailed("echo: repeat must be an integer from 1 to 10000")
    for _ in range(repeat):
        task.log(msg)
    return "\n".join([msg] * repeat)


def _sleep(task: Task) -> str:
    p = task.payload if isinstance(task.payload, dict) else {}
    seconds = p.get("seconds", 0)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise TaskFailed("sleep: seconds must be a number >= 0")
    task.sleep(float(seconds))
    return "slept %gs" % seconds


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class _Run:
    def __init__(self, task: Task) -> None:
        self.task = task
        self.thread: Optional[threading.Thread] = None
        self.reported = False  # guarded by Worker._mu


class Worker:
    """A worker of the cluster. ``server`` is the worker-protocol URL (the
    agent port, 8080 by default). ``token`` is a join token or agent key when
    the server runs with --auth. ``name`` is the device id asked for (default:
    the hostname); ``queues``, ``role``, ``labels`` and ``concurrency``
    (default: the number of CPUs) say what it takes. ``state_file`` keeps its
    id and credential across restarts, so it comes back as the same device.
    """

    def __init__(self, server: str = "http://127.0.0.1:8080", *, token: Optional[str] = None,
                 name: Optional[str] = None, queues: Sequence[str] = ("FifoQ",), role: str = "compute",
                 labels: Optional[Mapping[str, str]] = None, concurrency: Optional[int] = None,
                 builtins: bool = True, state_file: Optional[str] = None, drain_timeout: float = 30.0,
                 ssl_context: Optional[ssl.SSLContext] = None, disk_path: Optional[str] = None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.name = name or socket.gethostname()
        self.queues = list(queues)
        self.role = role
        self.labels = dict(labels or {})
        self.concurrency = concurrency or os.cpu_count() or 1
        self.state_file = state_file
        self.drain_timeout = drain_timeout
        self.worker_id = ""
        self._cred = ""
        self._interval = 5.0
        self._handlers: Dict[str, Handler] = {}
        if builtins:
            self._handlers["echo"] = _echo
            self._handlers["sleep"] = _sleep
        self._sampler = Sampler(disk_path)
        handlers: List[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)
        self._mu = threading.Lock()
        self._changed = threading.Condition(self._mu)
        self._runs: Dict[str, _Run] = {}
        self._lines: List[Dict[str, Any]] = []
        self._draining = threading.Event()
        self._stopping = threading.Event()
        self._registered = threading.Event()
        self._log_lock = threading.Lock()  # one logs post at a time, so lines keep their order
        self._progress: Dict[Any, Dict[str, Any]] = {}  # (task id, epoch) -> its latest unsent report
        self._progress_sent: Dict[Any, float] = {}  # (task id, epoch) -> when its last report was posted

    # ----- the user's side -----

    def handle(self, task_type: str) -> Callable[[Handler], Handler]:
        """Decorator: run the function for tasks of task_type."""
        def register(fn: Handler) -> Handler:
            self.add_handler(task_type, fn)
            return fn
        return register

    def add_handler(self, task_type: str, fn: Handler) -> None:
        if not task_type or not callable(fn):
            raise ValueError("a handler needs a task type and a function")
        if self._registered.is_set():
            raise RuntimeError("handlers must be added before run()")
        self._handlers[task_type] = fn

    @property
    def task_types(self) -> List[str]:
        return sorted(self._handlers)

    def drain(self) -> None:
        """Take no new task, let the running ones finish, then leave: run() returns."""
        self._draining.set()
        with self._changed:
            self._changed.notify_all()

    def stop(self) -> None:
        """Leave now: running attempts are told to stop and their tasks go back
        to their queues."""
        self._stopping.set()
        self.drain()

    def run(self, install_signals: bool = True) -> None:
        """Register and work until drained (SIGTERM or Ctrl-C drain; a second
        one stops at once), then deregister."""
        if install_signals and threading.current_thread() is threading.main_thread():
            def on_signal(signum: int, frame: Any) -> None:
                if self._draining.is_set():
                    self.stop()
                else:
                    log.info("draining: no new tasks, running ones finish")
                    self.drain()
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        self._register()
        threads = [threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True),
                   threading.Thread(target=self._control_loop, name="control", daemon=True),
                   threading.Thread(target=self._log_loop, name="logs", daemon=True)]
        for t in threads:
            t.start()
        try:
            self._lease_loop()
            deadline = time.monotonic() + self.drain_timeout
            with self._changed:
                while self._runs and not self._stopping.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(min(left, 0.5))
        finally:
            self._stopping.set()
            with self._mu:
                runs = list(self._runs.values())
            for r in runs:
                r.task._stop("worker stopping")
            try:
                self._post("/agent/v1/deregister", {}, timeout=5)
            except (APIError, TransportError) as e:
                log.warning("deregister: %s", e)

    # ----- protocol -----

    def _post(self, path: str, body: Any, timeout: float = 15.0, auth: bool = True) -> Any:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "retire-cluster-worker-python"}
        if auth and self._cred:
            headers["Authorization"] = "Bearer " + self._cred
        elif not auth and self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.server + path, data=data, method="POST", headers=headers)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                env = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raise api_error(e.code, dict(e.headers.items()), e.read()) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise TransportError("POST %s: %s" % (path, getattr(e, "reason", e))) from e
        if env.get("status") == "error":
            raise api_error(200, {}, json.dumps(env).encode())
        return env.get("data")

    def _load_state(self) -> Dict[str, str]:
        if not self.state_file:
            return {}
        try:
            with open(self.state_file, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _register(self) -> None:
        state = self._load_state()
        body = {
            "name": self.name, "hostname": socket.gethostname(), "role": self.role,
            "platform": platform_info(), "resources": self._sampler.sample(),
            "detailed_info": {"capabilities": ["python"] + self.task_types, "network_interfaces": interfaces(),
                              "sensors": []},
            "queues": self.queues, "labels": self.labels, "task_types": self.task_types,
            "concurrency": self.concurrency, "pid": os.getpid(), "version": "python-0.1.0",
        }
        if state.get("worker_id") and state.get("credential"):
            body["worker_id"], body["credential"] = state["worker_id"], state["credential"]
        pause = 0.5
        while True:
            try:
                reg = self._post("/agent/v1/register", body, auth=False)
                break
            except (TransportError, APIError) as e:
                if isinstance(e, APIError) and e.status in (400, 401, 403):
                    raise
                if self._stopping.is_set():
                    raise
                log.warning("register: %s; trying again in %.1fs", e, pause)
                time.sleep(pause)
                pause = min(pause * 2, 10)
        self.worker_id, self._cred = reg["worker_id"], reg["credential"]
        self._interval = max(0.1, reg.get("heartbeat_interval_ms", 5000) / 1000.0)
        if self.state_file:
            tmp = self.state_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"worker_id": self.worker_id, "credential": self._cred}, f)
            os.replace(tmp, self.state_file)
        self._registered.set()
        log.info("registered as %s", self.worker_id)

    def _lost_registration(self, e: APIError) -> bool:
        """On WORKER_NOT_REGISTERED (the device was removed), abandon every
        attempt and register again."""
        if e.code != "WORKER_NOT_REGISTERED":
            return False
        with self._mu:
            runs = list(self._runs.values())
            self._runs.clear()
            self._changed.notify_all()
        for r in runs:
            r.task._stop("worker not registered")
        self._cred = ""
        if self.state_file:
            try:
                os.remove(self.state_file)
            except OSError:
                pass
        self._register()
        return True

    def _lease_loop(self) -> None:
        while not self._draining.is_set():
            with self._changed:
                free = self.concurrency - len(self._runs)
                if free <= 0:
                    self._changed.wait(1.0)
                    continue
            wait_ms = int(min(10.0, max(1.0, self._interval * 2)) * 1000)
            try:
                got = self._post("/agent/v1/lease", {"max": free, "wait_ms": wait_ms}, timeout=wait_ms / 1000 + 15)
            except APIError as e:
                if not self._lost_registration(e):
                    log.warning("lease: %s", e)
                    self._stopping.wait(1.0)
                continue
            except TransportError as e:
                log.warning("lease: %s", e)
                self._stopping.wait(1.0)
                continue
            if got.get("drain"):
                self.drain()
            for leased in got.get("tasks") or []:
                self._start(Task(leased, self))

    def _start(self, task: Task) -> None:
        run = _Run(task)
        with self._mu:
            self._runs[task.id] = run
        run.thread = threading.Thread(target=self._execute, args=(run,), name="task-" + task.id, daemon=True)
        run.thread.start()

    def _execute(self, run: _Run) -> None:
        task = run.task
        timer = None
        if task.timeout > 0:
            # A timed-out attempt is reported failed at once, even if its
            # handler (a thread Python cannot kill) does not return yet.
            timer = threading.Timer(task.timeout, self._time_out, args=(run,))
            timer.daemon = True
            timer.start()
        started = time.thread_time()
        status, result = "completed", {"output": "", "exit_code": 0}
        try:
            handler = self._handlers.get(task.type)
            if handler is None:
                raise TaskFailed("no handler for task type %r on this worker" % task.type)
            result = _result_of(handler(task))
        except TaskCancelled:
            pass
        except TaskFailed as e:
            status = "failed"
            result = {"output": e.output, "exit_code": e.exit_code, "error": str(e)}
            if e.data is not None:
                result["data"] = e.data
        except Exception as e:  # a handler's bug fails its task, not the worker
            log.exception("task %s: handler raised", task.id)
            status = "failed"
            result = {"output": "", "exit_code": 1, "error": "%s: %s" % (type(e).__name__, e)}
        finally:
            if timer is not None:
                timer.cancel()
        try:
            if not task.cancelled.is_set():  # else abandoned (no result) or already reported (timeout)
                self._report(run, status, result, round(time.thread_time() - started, 3))
        finally:
            with self._changed:
                self._runs.pop(task.id, None)
                self._changed.notify_all()

    def _time_out(self, run: _Run) -> None:
        if run.task.cancelled.is_set():
            return
        run.task._stop("timeout")
        self._report(run, "failed", {"output": "", "exit_code": EXIT_TIMEOUT,
                                     "error": "task timed out after %ds" % run.task.timeout}, None)

    def _report(self, run: _Run, status: str, result: Dict[str, Any], cpu_seconds: Optional[float]) -> None:
        """Send the attempt's log, then its result, once."""
        with self._mu:
            if run.reported:
                return
            run.reported = True
        task = run.task
        self._flush_logs()
        self._flush_progress(final=(task.id, task.epoch))  # its last report goes before the result
        report: Dict[str, Any] = {"task_id": task.id, "epoch": task.epoch, "status": status, "result": result}
        if cpu_seconds is not None:
            report["resource_usage"] = {"peak_cpu_percent": 0.0, "peak_memory_mb": 0.0,
                                        "total_cpu_time_seconds": cpu_seconds}
        for attempt in range(5):
            try:
                out = self._post("/agent/v1/results", {"results": [report]})
                for o in out.get("outcomes") or []:
                    if not o.get("accepted"):
                        log.info("result of %s refused: %s", task.id, o.get("code"))
                return
            except TransportError as e:
                log.warning("results: %s", e)
                if self._stopping.wait(min(2 ** attempt, 5)):
                    return
            except APIError as e:
                log.warning("results: %s", e)
                return

    def _abandon(self, orders: Sequence[Mapping[str, Any]]) -> None:
        for o in orders or []:
            with self._mu:
                run = self._runs.get(o.get("task_id", ""))
            if run is not None and run.task.epoch == o.get("epoch"):
                log.info("stopping task %s: %s", run.task.id, o.get("reason"))
                run.task._stop(o.get("reason") or "stopped")

    def _heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            if self._stopping.wait(self._interval * random.uniform(0.9, 1.1)):
                return
            with self._mu:
                running = [{"task_id": r.task.id, "epoch": r.task.epoch} for r in self._runs.values()
                           if not r.task.cancelled.is_set()]
            try:
                hb = self._post("/agent/v1/heartbeat", {"resources": self._sampler.sample(), "running": running})
            except APIError as e:
                if not self._lost_registration(e):
                    log.warning("heartbeat: %s", e)
                continue
            except TransportError as e:
                log.warning("heartbeat: %s", e)
                continue
            self._abandon(hb.get("stop") or [])
            if hb.get("heartbeat_interval_ms"):
                self._interval = max(0.1, hb["heartbeat_interval_ms"] / 1000.0)
            if hb.get("drain"):
                self.drain()

    def _control_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                msg = self._post("/agent/v1/control", {"wait_ms": 20000}, timeout=35)
            except APIError as e:
                if e.status == 404:
                    return  # no control channel: heartbeats carry stop orders
                self._stopping.wait(1.0)
                continue
            except TransportError:
                self._stopping.wait(1.0)
                continue
            ids = [p["id"] for p in msg.get("pings") or []]
            if ids:
                try:
                    self._post("/agent/v1/pong", {"ids": ids})
                except (APIError, TransportError) as e:
                    log.warning("pong: %s", e)
            self._abandon(msg.get("stop") or [])

    def _log_line(self, task: Task, stream: str, message: str) -> None:
        if task.cancelled.is_set():
            return
        with self._mu:
            self._lines.append({"task_id": task.id, "epoch": task.epoch, "ts": _now(), "stream": stream,
                                "message": message})

    def _flush_logs(self) -> None:
        with self._log_lock:
            with self._mu:
                lines, self._lines = self._lines, []
            if not lines:
                return
            try:
                self._post("/agent/v1/logs", {"lines": lines})
            except (APIError, TransportError) as e:
                log.warning("logs: %s (%d lines dropped)", e, len(lines))

    def _progress_report(self, task: Task, fraction: float, message: str) -> None:
        if task.cancelled.is_set():
            return
        f = min(max(float(fraction), 0.0), 1.0)
        with self._mu:
            self._progress[(task.id, task.epoch)] = {"task_id": task.id, "epoch": task.epoch, "fraction": f,
                                                     "message": str(message), "ts": _now()}

    def _flush_progress(self, final: Any = None) -> None:
        """Post the reports that are due: at most one a second per task (the
        server keeps one per half second), and final's at once, as its attempt
        is over."""
        with self._log_lock:  # one post at a time, so a task's reports keep their order
            now = time.monotonic()
            with self._mu:
                due = [k for k in self._progress if k == final or now - self._progress_sent.get(k, 0.0) >= 1.0]
                reports = [self._progress.pop(k) for k in due]
                for k in due:
                    self._progress_sent[k] = now
                if final is not None:
                    self._progress.pop(final, None)
                    self._progress_sent.pop(final, None)
            if not reports:
                return
            try:
                self._post("/agent/v1/progress", {"reports": reports})
            except (APIError, TransportError) as e:
                log.debug("progress: %s (%d reports dropped)", e, len(reports))  # advisory: not retried

    def _log_loop(self) -> None:
        while not self._stopping.wait(0.2):
            self._flush_logs()
            self._flush_progress()


def _progress_directive(line: str) -> Optional[Tuple[float, str]]:
    """Parse "::progress 0.4 copying" or "::progress 40% copying": the
    fraction and message, or None when the line is not such a directive."""
    if not line.startswith("::progress") or line[10:11] not in (" ", "\t"):
        return None
    parts = line[10:].strip().split(" ", 1)
    num, scale = parts[0], 1.0
    if num.endswith("%"):
        num, scale = num[:-1], 100.0
    try:
        f = float(num)
    except ValueError:
        return None
    if not 0 <= f <= scale:  # also refuses NaN
        return None
    return f / scale, (parts[1].strip() if len(parts) > 1 else "")


def _result_of(value: Any) -> Dict[str, Any]:
    if isinstance(value, Result):
        r: Dict[str, Any] = {"output": value.output, "exit_code": value.exit_code}
        if value.data is not None:
            r["data"] = value.data
        return r
    if value is None:
        return {"output": "", "exit_code": 0}
    if isinstance(value, bytes):
        return {"output": value.decode("utf-8", "replace"), "exit_code": 0}
    if isinstance(value, str):
        return {"output": value, "exit_code": 0}
    return {"output": "", "exit_code": 0, "data": value}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """python -m retire_cluster_client.worker: a worker with the built-in types
    (echo, sleep), mostly to try the protocol out."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m retire_cluster_client.worker")
    ap.add_argument("--server", default=os.environ.get("DROVER_SERVER", "http://127.0.0.1:8080"))
    ap.add_argument("--token", default=os.environ.get("DROVER_TOKEN"))
    ap.add_argument("--name")
    ap.add_argument("--queues", default="FifoQ")
    ap.add_argument("--role", default="compute")
    ap.add_argument("--concurrency", type=int)
    ap.add_argument("--state-file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    Worker(args.server, token=args.token, name=args.name, queues=args.queues.split(","), role=args.role,
           concurrency=args.concurrency, state_file=args.state_file).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
