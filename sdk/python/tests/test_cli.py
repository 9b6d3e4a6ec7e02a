"""The retire-cluster command: document 001's commands as written, and the
rest of the devices, tasks, monitor and other nouns, against a real server."""

import io
import json
import subprocess

import pytest

from conftest import ADMIN_KEY, cli_command, python_env
from retire_cluster_client.cli import main


class Ran:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def rc(tmp_path, monkeypatch):
    """Runs retire-cluster: in this process (cli.main, fast), or with
    sub=True as the installed command in a child process."""
    env = dict(python_env(), RETIRE_CLUSTER_CONFIG_DIR=str(tmp_path / "cfg"))
    for k in ("RETIRE_CLUSTER_API_URL", "RETIRE_CLUSTER_API_KEY", "RETIRE_CLUSTER_API_SECRET"):
        env.pop(k, None)
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RETIRE_CLUSTER_CONFIG_DIR", env["RETIRE_CLUSTER_CONFIG_DIR"])

    def run(*args, ok=True, timeout=60, sub=False):
        if sub:
            p = subprocess.run(cli_command() + list(args), capture_output=True, text=True, env=env, timeout=timeout)
        else:
            out, err = io.StringIO(), io.StringIO()
            p = Ran(main(list(args), out, err), out.getvalue(), err.getvalue())
        if ok is True:
            assert p.returncode == 0, (args, p.stdout, p.stderr)
        elif ok is not None:
            assert p.returncode == ok, (args, p.stdout, p.stderr)
        return p
    return run


def test_document_commands(cluster, rc):
    assert "Set api_url" in rc("config", "set", "api_url", cluster.url, sub=True).stdout
    assert "Set api_key" in rc("config", "set", "api_key", "your-secret-key", sub=True).stdout
    out = rc("devices", "list", sub=True).stdout
    assert out.splitlines()[0].split()[:3] == ["ID", "HOSTNAME", "STATUS"]
    assert "gw-a" in out and "gw-b" in out
    out = rc("tasks", "submit", "echo", "--payload", '{"message": "test"}', sub=True).stdout
    assert out.startswith("Submitted task task-")
    assert rc("config", "get", "api_url").stdout.strip() == cluster.url
    shown = json.loads(rc("-o", "json", "config", "get").stdout)
    assert shown["api_key"] == "(set)"


def test_json_output_and_tasks(cluster, rc):
    rc("config", "set", "api_url", cluster.url)
    sub = json.loads(rc("-o", "json", "tasks", "submit", "echo", "--payload", '{"message": "hi", "repeat": 2}').stdout)
    tid = sub["task_id"]
    assert rc("tasks", "wait", tid).stdout == "hi\nhi\n"
    assert rc("tasks", "logs", tid).stdout == "hi\nhi\n"
    assert rc("tasks", "logs", "-f", "-t", tid).stdout.count(" hi\n") == 2
    got = json.loads(rc("-o", "json", "tasks", "get", tid).stdout)
    assert got["task"]["status"] == "completed"
    assert "Status:" in rc("tasks", "get", tid).stdout
    listed = json.loads(rc("-o", "json", "tasks", "list", "--status", "completed", "--limit", "5").stdout)
    assert listed["tasks"] and all(t["status"] == "completed" for t in listed["tasks"])
    assert "completed" in rc("tasks", "list", "--type", "echo", "--limit", "3", "--offset", "1").stdout
    out = rc("tasks", "submit", "echo", "--payload", '{"message": "waited"}', "--wait", "--priority", "high",
             "--timeout", "1m", "--max-retries", "1", "--label", "a=b", "--require-cpu", "1").stdout
    assert out == "waited\n"
    rc("tasks", "submit", "shell", "--payload", '{"command": "exit 4"}', "--wait", ok=1)
    later = json.loads(rc("-o", "json", "tasks", "submit", "echo", "--delay", "1h", "--idempotency-key",
                          "cli-later-%s" % tid).stdout)["task_id"]
    assert "it was pending" in rc("tasks", "cancel", later).stdout
    assert "Retried task %s as task-" % later in rc("tasks", "retry", later, "--priority", "low").stdout


def test_devices_cluster_monitor_stats_logs(cluster, rc):
    rc("config", "set", "api_url", cluster.url)
    assert "Hostname:" in rc("devices", "get", "gw-a").stdout
    assert "reachable" in rc("devices", "ping", "gw-a", "--count", "1", "--timeout", "2").stdout
    assert json.loads(rc("-o", "json", "devices", "list", "--status", "online", "--sort", "name").stdout)["online"] >= 2
    assert "Devices:" in rc("cluster", "status").stdout
    assert "CHECK" in rc("cluster", "health").stdout
    assert "cpu" in rc("cluster", "metrics", "--period", "1h").stdout
    assert "Total:" in rc("stats", "tasks", "--period", "24h").stdout
    rc("stats", "devices")
    assert "MESSAGE" in rc("logs", "--limit", "5").stdout
    out = rc("-o", "json", "monitor", "--types", "tasks", "--since-id", "1", "--count", "2").stdout
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2 and all(e["type"].startswith("task_") for e in events)
    assert len(rc("monitor", "--since-id", "1", "--count", "1").stdout.splitlines()) == 1


def test_errors_and_exit_codes(cluster, rc):
    rc("config", "set", "api_url", cluster.url)
    p = rc("tasks", "get", "task-nope", ok=1)
    assert "TASK_NOT_FOUND" in p.stderr and "task_id" in p.stderr
    p = rc("devices", "get", "nope", ok=1)
    assert "available_devices" in p.stderr
    assert "is not valid JSON" in rc("tasks", "submit", "echo", "--payload", "{nope", ok=2).stderr
    rc("tasks", "frobnicate", ok=2)
    rc("config", "set", "colour", "blue", ok=2)
    rc("config", "set", "api_url", "localhost:8081", ok=2)
    p = rc("--api-url", "http://127.0.0.1:1", "devices", "list", ok=1, sub=True)
    assert "Is the server running?" in p.stderr


def test_keys_and_auth(auth_cluster, rc):
    rc("config", "set", "api_url", auth_cluster.url)
    assert "AUTHENTICATION_REQUIRED" in rc("devices", "list", ok=1).stderr
    rc("config", "set", "api_key", ADMIN_KEY)
    made = json.loads(rc("-o", "json", "keys", "create", "--name", "cli", "--scopes", "read,write",
                         "--signed").stdout)
    assert made["secret"]
    kid = made["key"]["id"]
    out = rc("--api-key", made["token"], "--api-secret", made["secret"], "tasks", "submit", "echo",
             "--payload", '{"message": "signed"}', "--wait").stdout
    assert out == "signed\n"
    assert kid in rc("keys", "list").stdout
    assert "Name:" in rc("keys", "get", kid).stdout
    rot = json.loads(rc("-o", "json", "keys", "rotate", kid, "--grace", "0").stdout)
    assert "Revoked key %s" % rot["key"]["id"] in rc("keys", "revoke", rot["key"]["id"]).stdout
    assert "Token:" in rc("keys", "create", "--join", "--uses", "2").stdout
    rc("keys", "create", "--name", "x", ok=2)


def test_remove_device(cluster, rc):
    from test_client import register_raw
    rc("config", "set", "api_url", cluster.url)
    reg = register_raw(cluster, "cli-remove")
    assert "Removed device %s" % reg["worker_id"] in rc("devices", "remove", reg["worker_id"], "--force").stdout
