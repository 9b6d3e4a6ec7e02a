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
