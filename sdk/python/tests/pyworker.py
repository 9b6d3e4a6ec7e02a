"""A Python worker for the tests: python pyworker.py SERVER NAME QUEUES CONCURRENCY."""

import logging
import sys
import time

from retire_cluster_client.worker import Result, TaskFailed, Worker

server, name, queues, concurrency = sys.argv[1:5]
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
worker = Worker(server, name=name, queues=queues.split(","), concurrency=int(concurrency), role="mobile",
                labels={"lang": "python"})


@worker.handle("resize-image")
def resize(task):
    task.log("resizing %s" % task.payload["path"])
    w, h = task.payload.get("size", [640, 480])
    return {"path": task.payload["path"], "width": w // 2, "height": h // 2, "by": name}


@worker.handle("py-fail")
def fail(task):
    raise TaskFailed("bad input", exit_code=7, output="partial")


@worker.handle("py-crash")
def crash(task):
    raise ValueError("boom")


@worker.handle("py-slow")
def slow(task):
    steps = int(task.payload.get("steps", 10))
    for i in range(steps):
        task.log("step %d" % i)
        task.progress((i + 1) / steps, "step %d of %d" % (i + 1, steps))
        task.sleep(float(task.payload.get("pause", 0.2)))
    return Result(output="slow done by " + name, data={"steps": task.payload.get("steps", 10)})


@worker.handle("py-stuck")
def stuck(task):
    time.sleep(float(task.payload.get("seconds", 5)))  # ignores cancellation
    return "too late"


@worker.handle("py-shell")
def shell(task):
    done = task.run(task.payload["command"], shell=True)
    if done.returncode:
        raise TaskFailed("exit %d" % done.returncode, exit_code=done.returncode, output=done.stdout)
    return done.stdout


worker.run()
