"""Fixtures: a real drover server (temp SQLite store, free ports) and real Go
workers, started once per session; never a mock. The binary is $DROVER_BIN,
else built from this repository with go build."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Dict, List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(SDK))

try:
    import retire_cluster_client  # noqa: F401  (the installed package, in CI)
except ImportError:  # a checkout without pip install: test the source tree
    sys.path.insert(0, os.path.join(SDK, "src"))

from retire_cluster_client import ClusterClient  # noqa: E402

ADMIN_KEY = "test-admin-key-0123456789abcdef"
SECRET_KEY = "0123456789abcdef0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout: float = 20.0, every: float = 0.05, what: str = "condition"):
    """Bounded polling, for end-to-end tests only."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(every)


@pytest.fixture(scope="session")
def drover_bin(tmp_path_factory) -> str:
    path = os.environ.get("DROVER_BIN")
    if path:
        return path
    out = str(tmp_path_factory.mktemp("bin") / "drover")
    subprocess.run(["go", "build", "-o", out, "./cmd/drover"], cwd=REPO, check=True)
    return out


class Server:
    """One drover server process on fixed ports, restartable on them."""

    def __init__(self, binary: str, workdir: str, extra: List[str], env: Optional[Dict[str, str]] = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.agent_port = free_port()
        self.extra = extra
        self.env = dict(os.environ, **(env or {}))
        self.proc: Optional[subprocess.Popen] = None
        self.url = "http://127.0.0.1:%d" % self.port
        self.agent_url = "http://127.0.0.1:%d" % self.agent_port
        self.log_path = os.path.join(workdir, "server.log")

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "server", "--port", str(self.port), "--agent-port", str(self.agent_port),
             "--store", "sqlite://" + os.path.join(self.workdir, "drover.db"), "--log-level", "warn",
             "--heartbeat-interval", "1s", "--lease-ttl", "3s", "--offline-threshold", "4s",
             # the dialects' listeners default to fixed ports (7700, 9000): off here
             "--keeper-port", "0", "--netpulse-port", "0"] + self.extra,
            stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir)
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError("drover server exited %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(up, 30, what="the server to answer /health")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def client(self, **kw) -> ClusterClient:
        return ClusterClient(self.url, **kw)


class GoWorker:
    def __init__(self, binary: str, server: Server, name: str, *args: str, token: Optional[str] = None) -> None:
        self.name = name
        cmd = [binary, "worker", "--server", server.agent_url, "--name", name, "--log-level", "warn",
               "--concurrency", "2"] + list(args)
        if token:
            cmd += ["--token", token]
        self.log_path = os.path.join(server.workdir, "worker-%s.log" % name)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=server.workdir)
        log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def online(client: ClusterClient, *names: str) -> bool:
    ids = {d["id"] for d in client.devices.list(status="online")}
    return set(names) <= ids


class Cluster:
    def __init__(self, server: Server, workers: List[GoWorker]) -> None:
        self.server = server
        self.workers = workers
        self.url = server.url
        self.agent_url = server.agent_url

    def client(self, **kw) -> ClusterClient:
        return self.server.client(**kw)


@pytest.fixture(scope="session")
def cluster(drover_bin, tmp_path_factory):
    """A server without auth and two Go workers, gw-a and gw-b (shell allowed)."""
    d = str(tmp_path_factory.mktemp("cluster"))
    srv = Server(drover_bin, d, [])
    srv.start()
    workers = [GoWorker(drover_bin, srv, "gw-a", "--allow-shell"), GoWorker(drover_bin, srv, "gw-b", "--allow-shell")]
    try:
        wait_until(lambda: online(srv.client(), "gw-a", "gw-b"), 30, what="Go workers online")
        yield Cluster(srv, workers)
    finally:
        for w in workers:
            w.stop()
        srv.stop()


@pytest.fixture(scope="session")
def auth_cluster(drover_bin, tmp_path_factory):
    """A server with --auth, the admin key ADMIN_KEY and a server key for signed
    keys, and one Go worker joined with an agent key."""
    d = str(tmp_path_factory.mktemp("auth"))
    srv = Server(drover_bin, d, ["--auth", "--api-key", ADMIN_KEY], env={"DROVER_SECRET_KEY": SECRET_KEY})
    srv.start()
    admin = srv.client(api_key=ADMIN_KEY)
    agent = admin.keys.create("test worker", ["agent"])
    w = GoWorker(drover_bin, srv, "gw-auth", token=agent["token"])
    try:
        wait_until(lambda: online(admin, "gw-auth"), 30, what="the Go worker online")
        yield Cluster(srv, [w])
    finally:
        w.stop()
        srv.stop()


@pytest.fixture
def client(cluster) -> ClusterClient:
    return cluster.client()


def cli_command() -> List[str]:
    """The retire-cluster command: the console script pip installed beside this
    Python, else the module (a source checkout). DROVER_PY_INSTALLED=1 (CI)
    insists on the script."""
    script = os.path.join(os.path.dirname(sys.executable), "retire-cluster")
    if os.path.exists(script):
        return [script]
    if os.environ.get("DROVER_PY_INSTALLED") == "1":
        raise AssertionError("the retire-cluster console script is not installed beside %s" % sys.executable)
    return [sys.executable, "-m", "retire_cluster_client.cli"]


def python_env() -> Dict[str, str]:
    """The environment for child Python processes: they import the same package."""
    import retire_cluster_client
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(retire_cluster_client.__file__))
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def data_of(stdout: str):
    return json.loads(stdout)


