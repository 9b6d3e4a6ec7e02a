"""Document 001's Python snippet, run as written but for the URL."""

import os
import subprocess
import sys
import time

from conftest import python_env

SNIPPET = """\
from retire_cluster_client import ClusterClient

client = ClusterClient('http://localhost:8081', api_key='your-key')

# 获取设备列表
devices = client.devices.list(status='online')

# 提交任务
task_id = client.tasks.submit('echo', {'message': 'Hello'})

# 监控任务
for event in client.monitor.stream(['tasks']):
    print(f"任务更新: {event}")
"""


def test_document_snippet(cluster, client, tmp_path):
    code = "import sys; sys.stdout.reconfigure(line_buffering=True)\n" + \
        SNIPPET.replace("http://localhost:8081", cluster.url)
    path = tmp_path / "snippet.py"
    path.write_text(code, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(python_env(), PYTHONIOENCODING="utf-8"), text=True, encoding="utf-8")
    try:
        # The snippet's own task may end before its stream connects: submit
        # more until it prints one.
        deadline = time.monotonic() + 30
        line = ""
        os.set_blocking(proc.stdout.fileno(), False)
        while time.monotonic() < deadline and proc.poll() is None:
            client.tasks.submit("echo", {"message": "watched"})
            time.sleep(0.5)
            line = proc.stdout.readline()
            if line:
                break
        assert proc.poll() is None, proc.stderr.read()
        assert line.startswith("任务更新: {") and "'type': 'task_" in line, line
    finally:
        proc.kill()
        proc.wait()


def test_against_drover_dev(drover_bin, tmp_path):
    """The issue's bar: the snippet's calls and the document's CLI commands
    against `drover dev` (its own server and local workers)."""
    from conftest import cli_command, free_port, wait_until
    from retire_cluster_client import ClusterClient

    port, agent = free_port(), free_port()
    log = open(str(tmp_path / "dev.log"), "wb")
    dev = subprocess.Popen([drover_bin, "dev", "--port", str(port), "--agent-port", str(agent),
                            "--keeper-port", "0", "--netpulse-port", "0",
                            "--data", str(tmp_path / "data")], stdout=log, stderr=subprocess.STDOUT,
                           cwd=str(tmp_path))
    log.close()
    url = "http://127.0.0.1:%d" % port
    try:
        client = ClusterClient(url, api_key="your-key")

        def up():
            try:
                return len(client.devices.list(status="online")) >= 1
            except Exception:
                return False
        wait_until(up, 30, what="drover dev's workers online")
        task_id = client.tasks.submit("echo", {"message": "Hello"})
        assert client.tasks.wait(task_id, timeout=30)["result"]["output"] == "Hello"
        env = dict(python_env(), RETIRE_CLUSTER_CONFIG_DIR=str(tmp_path / "cfg"))
        for args in (["config", "set", "api_url", url], ["config", "set", "api_key", "your-secret-key"],
                     ["devices", "list"], ["tasks", "submit", "echo", "--payload", '{"message": "test"}']):
            p = subprocess.run(cli_command() + args, capture_output=True, text=True, env=env, timeout=60)
            assert p.returncode == 0, (args, p.stdout, p.stderr)
        assert p.stdout.startswith("Submitted task task-")
    finally:
        dev.send_signal(2)
        try:
            dev.wait(20)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()
