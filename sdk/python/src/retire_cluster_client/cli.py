"""retire-cluster: the command line of document 001 over ClusterClient.

    retire-cluster config set api_url http://localhost:8081
    retire-cluster config set api_key your-secret-key
    retire-cluster devices list
    retire-cluster tasks submit echo --payload '{"message": "test"}'

One noun per resource (cluster, devices, tasks, logs, monitor, stats, config,
keys), as the Go CLI ``drover`` has them, with the same conventions: tables
for people, ``-o json`` prints the answer's data for scripts; exit code 1
when the call (or a waited-for task) failed, 2 for a wrong command line.
Settings come from flags, then $RETIRE_CLUSTER_API_URL / _API_KEY /
_API_SECRET, then the config file (``retire-cluster config path``).
"""

import argparse
import json
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from .client import ClusterClient
from .errors import APIError, TransportError
from .monitor import Event

DEFAULT_URL = "http://127.0.0.1:8081"
CONFIG_KEYS = ("api_url", "api_key", "api_secret")
NONE = "-"
TASK_STATES = ("pending", "running", "completed", "failed", "cancelled")


class UsageError(Exception):
    """A mistake on the command line: exit code 2."""


class TaskError(Exception):
    """A waited-for task ended without completing: exit code 1."""


# ----- settings -----

def config_path() -> str:
    d = os.environ.get("RETIRE_CLUSTER_CONFIG_DIR")
    if not d:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        d = os.path.join(base, "retire-cluster")
    return os.path.join(d, "config.json")


def load_config() -> Dict[str, str]:
    try:
        with open(config_path(), encoding="utf-8") as f:
            cfg = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise UsageError("read %s: %s" % (config_path(), e))
    return {k: v for k, v in cfg.items() if isinstance(v, str)}


def save_config(cfg: Dict[str, str]) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    # The key is a secret: the file is the user's alone.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({k: v for k, v in cfg.items() if v}, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


# ----- output -----

class Out:
    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.json = args.output == "json"
        self.out = out
        self.err = err

    def print(self, *lines: str) -> None:
        for line in lines:
            self.out.write(line + "\n")

    def data(self, data: Any) -> None:
        self.out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def show(self, data: Any, table: Callable[[], None]) -> None:
        if self.json:
            self.data(data)
        else:
            table()

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        cells = [list(header)] + [[str(c) for c in r] for r in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        for r in cells:
            self.print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())

    def fields(self, pairs: Sequence[Sequence[Any]]) -> None:
        width = max(len(p[0]) for p in pairs) + 1
        for k, v in pairs:
            self.print((k + ":").ljust(width + 1) + str(v))


def or_none(v: Any) -> str:
    return NONE if v is None or v == "" else str(v)


_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_time(s: Optional[str]) -> Optional[datetime]:
    """An RFC 3339 time as the server writes it (any number of fraction digits;
    fromisoformat before Python 3.11 takes only 3 or 6)."""
    m = _TIME.match(s or "")
    if not m:
        return None
    frac = int((m.group(7) or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if m.group(8) and m.group(8) != "Z":
        sign = 1 if m.group(8)[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(m.group(8)[1:3]), minutes=int(m.group(8)[4:6])))
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    return datetime(y, mo, d, h, mi, sec, frac, tzinfo=tz)


def ago(s: Optional[str]) -> str:
    t = parse_time(s)
    if t is None:
        return NONE
    d = (datetime.now(timezone.utc) - t).total_seconds()
    prefix, suffix = ("in ", "") if d < 0 else ("", " ago")
    d = abs(d)
    if d < 60:
        r = "%ds" % d
    elif d < 3600:
        r = "%dm" % (d // 60)
    elif d < 48 * 3600:
        r = "%dh" % (d // 3600)
    else:
        r = "%dd" % (d // 86400)
    return prefix + r + suffix


def when(s: Optional[str]) -> str:
    return NONE if not s else "%s (%s)" % (s, ago(s))


def seconds(s: Optional[float]) -> str:
    if s is None:
        return NONE
    if s < 1:
        return "%dms" % round(s * 1000)
    if s < 60:
        return "%.1fs" % s
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return ("%dh%dm%ds" % (h, m, sec)) if h else ("%dm%ds" % (m, sec))


def counts(m: Optional[Dict[str, int]], order: Sequence[str] = ()) -> str:
    if not m:
        return NONE
    keys = sorted(m, key=lambda k: (order.index(k) if k in order else len(order), k))
    return ", ".join("%s %d" % (k, m[k]) for k in keys)


def platform(p: Dict[str, Any]) -> str:
    if not p or not (p.get("os") or p.get("arch")):
        return NONE
    return "%s/%s" % (p.get("os", ""), p.get("arch", ""))


def cpu(r: Dict[str, Any]) -> str:
    return NONE if not r.get("cpu_cores") else "%.0f%% of %d" % (r.get("cpu_usage", 0), r["cpu_cores"])


def memory(r: Dict[str, Any]) -> str:
    if not r.get("memory_total_gb"):
        return NONE
    return "%.1f/%.1f GB" % (r.get("memory_used_gb", 0), r["memory_total_gb"])


def listing(v: Optional[Sequence[str]]) -> str:
    return ", ".join(v) if v else NONE


def labels(m: Optional[Dict[str, str]]) -> str:
    return ",".join("%s=%s" % (k, m[k]) for k in sorted(m)) if m else ""


def indent(s: str) -> List[str]:
    return ["  " + line for line in s.rstrip("\n").split("\n")]


# ----- commands -----

def client_of(args: argparse.Namespace) -> ClusterClient:
    cfg = load_config()
    url = args.api_url or os.environ.get("RETIRE_CLUSTER_API_URL") or cfg.get("api_url") or DEFAULT_URL
    key = args.api_key or os.environ.get("RETIRE_CLUSTER_API_KEY") or cfg.get("api_key")
    secret = args.api_secret or os.environ.get("RETIRE_CLUSTER_API_SECRET") or cfg.get("api_secret")
    try:
        return ClusterClient(url, api_key=key, api_secret=secret)
    except ValueError as e:
        raise UsageError(str(e))


def cmd_config_set(args: argparse.Namespace, o: Out) -> None:
    if args.key not in CONFIG_KEYS:
        raise UsageError("unknown config key %r; the keys are %s" % (args.key, ", ".join(CONFIG_KEYS)))
    if args.key == "api_url" and args.value:
        try:
            ClusterClient(args.value)
        except ValueError:
            raise UsageError("api_url %r: want http://host:port or https://host:port" % args.value)
    cfg = load_config()
    cfg[args.key] = args.value
    save_config(cfg)
    o.print(("Set %s in %s" if args.value else "Cleared %s in %s") % (args.key, config_path()))


def cmd_config_get(args: argparse.Namespace, o: Out) -> None:
    cfg = load_config()
    if args.key:
        if args.key not in CONFIG_KEYS:
            raise UsageError("unknown config key %r; the keys are %s" % (args.key, ", ".join(CONFIG_KEYS)))
        o.print(cfg.get(args.key, ""))
        return
    shown = {k: ("(set)" if k != "api_url" and cfg.get(k) else cfg.get(k, "")) for k in CONFIG_KEYS}
    o.show(shown, lambda: o.fields([(k, shown[k] or NONE) for k in CONFIG_KEYS]))


def cmd_config_path(args: argparse.Namespace, o: Out) -> None:
    o.print(config_path())


def cmd_cluster_status(args: argparse.Namespace, o: Out) -> None:
    s = client_of(args).cluster.status()

    def table() -> None:
        r = s.get("total_resources", {})
        o.fields([
            ("Devices", "%d total, %d online, %d offline (%.1f%% healthy)" % (
                s["total_devices"], s["online_devices"], s["offline_devices"], s["health_percentage"])),
            ("Resources", "%d CPU cores, %.1f GB memory, %.1f GB storage" % (
                r.get("cpu_cores", 0), r.get("memory_gb", 0), r.get("storage_gb", 0))),
            ("By role", counts(s.get("by_role"))),
            ("Tasks", counts(s.get("tasks"), TASK_STATES)),
            ("Uptime", or_none(s.get("uptime")))])
    o.show({"cluster_stats": s}, table)


def cmd_cluster_health(args: argparse.Namespace, o: Out) -> None:
    h = client_of(args).cluster.health()

    def table() -> None:
        o.print("Overall: %s" % or_none(h.get("overall_health")), "")
        rows = []
        for name in sorted(h.get("checks") or {}):
            c = h["checks"][name]
            details = ", ".join("%s %s" % (k, v) for k, v in c.items() if k != "status")
            rows.append((name, c.get("status", ""), details or NONE))
        o.table(("CHECK", "STATUS", "DETAILS"), rows)
    o.show(h, table)


def cmd_cluster_metrics(args: argparse.Namespace, o: Out) -> None:
    m = client_of(args).cluster.metrics(args.period, args.type)

    def table() -> None:
        rows = []
        for name, sec in (m.get("metrics") or {}).items():
            rows.append((name, ", ".join("%s %s" % (k, v) for k, v in sec.items())))
        o.print("Period: %s" % m.get("period"), "")
        o.table(("SECTION", "VALUES"), rows)
    o.show(m, table)


def cmd_devices_list(args: argparse.Namespace, o: Out) -> None:
    page = client_of(args).devices.list(status=args.status, role=args.role, sort=args.sort, limit=args.limit)

    def table() -> None:
        if not page:
            o.print("No devices.")
            return
        o.table(("ID", "HOSTNAME", "STATUS", "ROLE", "PLATFORM", "CPU", "MEMORY", "TASKS", "LAST SEEN"),
                [(d["id"], or_none(d.get("hostname")), d["status"], or_none(d.get("role")),
                  platform(d.get("platform", {})), cpu(d.get("resources", {})), memory(d.get("resources", {})),
                  d.get("tasks", {}).get("active", 0), ago(d.get("last_seen"))) for d in page])
        o.print("", "%d devices: %d online, %d offline" % (page.total, page.data.get("online", 0),
                                                            page.data.get("offline", 0)))
    o.show(page.data, table)


def cmd_devices_get(args: argparse.Namespace, o: Out) -> None:
    d = client_of(args).devices.get(args.id)

    def table() -> None:
        r = d.get("resources", {})
        info = d.get("detailed_info") or {}
        t = d.get("tasks", {})
        pairs = [("ID", d["id"]), ("Hostname", or_none(d.get("hostname"))), ("Status", d["status"]),
                 ("Role", or_none(d.get("role"))), ("Platform", platform(d.get("platform", {}))),
                 ("Version", or_none(d.get("version"))), ("CPU", cpu(r)), ("Memory", memory(r)),
                 ("Storage", "%.1f/%.1f GB" % (r.get("storage_used_gb", 0), r.get("storage_total_gb", 0)))]
        if info.get("battery"):
            pairs.append(("Battery", "%.0f%% (charging: %s)" % (info["battery"]["level"],
                                                               str(info["battery"]["charging"]).lower())))
        pairs += [("Tasks", "%d active, %d completed, %d failed" % (t.get("active", 0), t.get("completed", 0),
                                                                    t.get("failed", 0))),
                  ("Concurrency", d.get("concurrency", 0)), ("Queues", listing(d.get("queues"))),
                  ("Task types", listing(d.get("task_types"))), ("Labels", or_none(labels(d.get("labels")))),
                  ("Capabilities", listing(info.get("capabilities"))),
                  ("Network", listing(info.get("network_interfaces"))), ("Sensors", listing(info.get("sensors"))),
                  ("Last seen", when(d.get("last_seen"))), ("Uptime", seconds(d.get("uptime_seconds")))]
        o.fields(pairs)
    o.show({"device": d}, table)


def cmd_devices_ping(args: argparse.Namespace, o: Out) -> None:
    p = client_of(args).devices.ping(args.id, timeout=args.timeout, count=args.count)

    def table() -> None:
        for probe in p.get("results") or []:
            t = probe.get("time_ms")
            o.print("seq %d: %s" % (probe["seq"], "lost" if t is None else "%.2f ms" % t))
        avg = p.get("average_latency_ms")
        o.print("%s: %s, average %s, %.0f%% lost" % (p["device_id"], "reachable" if p["reachable"] else "unreachable",
                                                       NONE if avg is None else "%.2f ms" % avg, p.get("packet_loss", 0)))
    o.show({"ping_results": p}, table)
    if not p.get("reachable"):
        raise TaskError("device %s is not reachable" % args.id)


def cmd_devices_remove(args: argparse.Namespace, o: Out) -> None:
    r = client_of(args).devices.remove(args.id, force=args.force)
    o.show(r, lambda: o.print("Removed device %s; cancelled %d tasks" % (r["removed_device"], r["cancelled_tasks"])))


def read_payload(v: Optional[str]) -> Any:
    if v is None or v == "":
        return None
    if v.startswith("@"):
        try:
            with open(v[1:], encoding="utf-8") as f:
                v = f.read()
        except OSError as e:
            raise UsageError("--payload: %s" % e)
    try:
        return json.loads(v)
    except ValueError as e:
        raise UsageError("--payload is not valid JSON: %s" % e)


def key_values(items: Optional[List[str]], flag: str) -> Optional[Dict[str, str]]:
    if not items:
        return None
    out = {}
    for item in items:
        for kv in item.split(","):
            k, sep, v = kv.partition("=")
            if not sep or not k:
                raise UsageError("%s %r: want key=value" % (flag, kv))
            out[k] = v
    return out


def duration(v: str) -> float:
    """Seconds, or a duration like 90s, 10m, 2h, 1d."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for suffix in ("ms", "s", "m", "h", "d"):
        if v.endswith(suffix):
            try:
                return float(v[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
    try:
        return float(v)
    except ValueError:
        raise argparse.ArgumentTypeError("%r: want seconds or a duration like 10m" % v)


def finish(task: Dict[str, Any], o: Out) -> None:
    """Print a finished task's output (or, with -o json, the task); fail unless it completed."""
    if o.json:
        o.data({"task": task})
    else:
        out = (task.get("result") or {}).get("output") or ""
        if out:
            o.out.write(out if out.endswith("\n") else out + "\n")
    if task.get("status") != "completed":
        r = task.get("result") or {}
        msg = "task %s %s" % (task["task_id"], task.get("status"))
        reason = task.get("error") or r.get("error")
        if reason:
            msg += ": " + reason
        if r.get("exit_code"):
            msg += " (exit code %d)" % r["exit_code"]
        raise TaskError(msg)


def cmd_tasks_submit(args: argparse.Namespace, o: Out) -> None:
    reqs = {"min_cpu_cores": args.require_cpu, "min_memory_gb": args.require_memory_gb,
            "platform": args.require_platform, "role": args.require_role,
            "labels": key_values(args.require_label, "--require-label")}
    reqs = {k: v for k, v in reqs.items() if v}
    if args.max_retries is not None and args.max_retries < 0:
        raise UsageError("--max-retries %d is negative" % args.max_retries)
    c = client_of(args)
    sub = c.tasks.create(args.type, read_payload(args.payload), priority=args.priority, queue=args.queue,
                         device_id=args.device, requirements=reqs or None,
                         timeout=None if args.timeout is None else int(-(-args.timeout // 1)),
                         max_retries=args.max_retries, delay_seconds=args.delay,
                         idempotency_key=args.idempotency_key, labels=key_values(args.label, "--label"))
    if not args.wait:
        if sub.get("duplicate"):
            text = "Task %s was already submitted with this idempotency key (%s)" % (sub["task_id"], sub["status"])
        else:
            text = "Submitted task %s (%s)" % (sub["task_id"], sub["status"])
        o.show(sub, lambda: o.print(text))
        return
    o.err.write("Submitted task %s; waiting for it to end\n" % sub["task_id"])
    finish(c.tasks.wait(sub["task_id"]), o)


def cmd_tasks_list(args: argparse.Namespace, o: Out) -> None:
    page = client_of(args).tasks.list(status=args.status, device_id=args.device, task_type=args.type,
                                      queue=args.queue, since=args.since, limit=args.limit, offset=args.offset)

    def table() -> None:
        if not page:
            o.print("No tasks.")
            return
        o.table(("ID", "TYPE", "STATUS", "PRIORITY", "QUEUE", "DEVICE", "CREATED", "DURATION"),
                [(t["task_id"], t["task_type"], t["status"], or_none(t.get("priority")), or_none(t.get("queue")),
                  or_none(t.get("device_id")), ago(t.get("created_at")), seconds(t.get("execution_time_seconds")))
                 for t in page])
        d = page.data
        o.print("", "%d of %d tasks: %d pending, %d running, %d completed, %d failed, %d cancelled" % (
            len(page), page.total, d.get("pending", 0), d.get("running", 0), d.get("completed", 0),
            d.get("failed", 0), d.get("cancelled", 0)))
    o.show(page.data, table)


def write_task(t: Dict[str, Any], o: Out) -> None:
    pairs = [("ID", t["task_id"]), ("Type", t["task_type"]), ("Status", t["status"]),
             ("Priority", or_none(t.get("priority"))), ("Queue", or_none(t.get("queue"))),
             ("Device", or_none(t.get("device_id"))),
             ("Attempt", "%d (max retries %d)" % (t.get("attempt", 0), t.get("max_retries", 0))),
             ("Timeout", "%ds" % t.get("timeout", 0))]
    if t.get("original_task_id"):
        pairs.append(("Retry of", t["original_task_id"]))
    if t.get("idempotency_key"):
        pairs.append(("Idempotency key", t["idempotency_key"]))
    if t.get("labels"):
        pairs.append(("Labels", labels(t["labels"])))
    pairs += [("Created", when(t.get("created_at"))), ("Started", when(t.get("started_at"))),
              ("Completed", when(t.get("completed_at"))), ("Duration", seconds(t.get("execution_time_seconds")))]
    p = t.get("progress")
    if p:
        pairs.append(("Progress", ("[%3.0f%%] %s" % (p.get("percent", 0), p.get("message", ""))).strip()))
    if t.get("error"):
        pairs.append(("Error", t["error"]))
    r = t.get("result")
    if r:
        pairs.append(("Exit code", r.get("exit_code", 0)))
    if t.get("payload") is not None:
        pairs.append(("Payload", json.dumps(t["payload"], separators=(",", ":"))))
    o.fields(pairs)
    if r and r.get("output"):
        o.print("", "Output:", *indent(r["output"]))
    if t.get("detailed_log"):
        o.print("", "Log:", *indent("\n".join(t["detailed_log"])))


def cmd_tasks_get(args: argparse.Namespace, o: Out) -> None:
    t = client_of(args).tasks.get(args.id)
    o.show({"task": t}, lambda: write_task(t, o))


def cmd_tasks_cancel(args: argparse.Namespace, o: Out) -> None:
    r = client_of(args).tasks.cancel(args.id)
    o.show(r, lambda: o.print("Cancelled task %s (it was %s)" % (
        r["cancelled_task"], "running" if r.get("was_running") else "pending")))


def cmd_tasks_retry(args: argparse.Namespace, o: Out) -> None:
    r = client_of(args).tasks.retry(args.id, args.priority)
    o.show(r, lambda: o.print("Retried task %s as %s" % (r["original_task_id"], r["new_task_id"])))


def cmd_tasks_logs(args: argparse.Namespace, o: Out) -> None:
    c = client_of(args)

    def emit(line: Dict[str, Any]) -> None:
        if o.json:
            o.print(json.dumps(line, separators=(",", ":")))
        elif args.timestamps:
            o.print("%s %s" % (line.get("timestamp"), line.get("message", "")))
        else:
            o.print(line.get("message", ""))
        o.out.flush()

    if args.follow:
        for line in c.tasks.follow_logs(args.id):
            emit(line)
        return
    cursor = 0
    while True:
        page = c.tasks.logs(args.id, cursor=cursor)
        for line in page.get("logs") or []:
            emit(line)
        if not page.get("logs") or page["cursor"] <= cursor:
            return
        cursor = page["cursor"]


def cmd_tasks_wait(args: argparse.Namespace, o: Out) -> None:
    finish(client_of(args).tasks.wait(args.id, timeout=args.timeout), o)


def cmd_logs(args: argparse.Namespace, o: Out) -> None:
    page = client_of(args).logs.list(level=args.level, device_id=args.device, component=args.component,
                                     task_id=args.task, since=args.since, limit=args.limit)

    def table() -> None:
        if not page:
            o.print("No log entries.")
            return
        o.table(("TIME", "LEVEL", "COMPONENT", "DEVICE", "MESSAGE"),
                [(e.get("timestamp", ""), e.get("level", ""), or_none(e.get("component")),
                  or_none(e.get("device_id")), e.get("message", "")) for e in page])
    o.show(page.data, table)


def event_line(ev: Event) -> str:
    who = ev.get("device_id") or ""
    if ev.get("task_id"):
        who = ("%s %s" % (ev["task_id"], ev.get("device_id") or "")).strip()
    msg = ev.get("message", "")
    if ev.type == "device_update":
        msg = "cpu %s%%  memory %s%%  tasks %s" % (ev.get("cpu_usage"), ev.get("memory_usage"), ev.get("active_tasks"))
    t = parse_time(ev.get("timestamp"))
    ts = t.astimezone().strftime("%H:%M:%S.%f")[:-3] if t else ""
    return "%s  %-15s %-7s %-28s %s" % (ts, ev.type, ev.get("level", ""), who, msg)


def cmd_monitor(args: argparse.Namespace, o: Out) -> None:
    c = client_of(args)
    n = 0
    try:
        for ev in c.monitor.stream(args.types, device_id=args.device, last_event_id=args.since_id):
            o.print(json.dumps(ev, separators=(",", ":")) if o.json else event_line(ev))
            o.out.flush()
            n += 1
            if args.count and n >= args.count:
                return
    except KeyboardInterrupt:
        return  # Ctrl-C is how a monitor ends


def cmd_stats_tasks(args: argparse.Namespace, o: Out) -> None:
    s = client_of(args).stats.tasks(args.period, args.group_by)

    def table() -> None:
        b = s.get("by_status", {})
        o.fields([("Period", s.get("period")), ("Total", s.get("total_tasks")),
                  ("By status", "completed %d, failed %d, cancelled %d" % (
                      b.get("completed", 0), b.get("failed", 0), b.get("cancelled", 0))),
                  ("Success rate", "%.1f%%" % (s.get("success_rate", 0))),
                  ("Average time", seconds(s.get("average_execution_time")))])
        group = s.get("by_task_type") or s.get("by_hour") or s.get("by_device") or {}
        if group:
            o.print("")
            o.table((s.get("group_by", "device").upper(), "COMPLETED", "FAILED", "CANCELLED"),
                    [(k, v.get("completed", 0), v.get("failed", 0), v.get("cancelled", 0))
                     for k, v in sorted(group.items())])
    o.show({"task_stats": s}, table)


def cmd_stats_devices(args: argparse.Namespace, o: Out) -> None:
    s = client_of(args).stats.devices(args.period)

    def table() -> None:
        u = s.get("utilization") or {}
        rank = {r["device_id"]: r["score"] for r in s.get("performance_ranking") or []}
        if not u:
            o.print("No devices.")
            return
        o.table(("DEVICE", "CPU AVG", "MEMORY AVG", "UPTIME", "COMPLETED", "FAILED", "SCORE"),
                [(k, "%.1f%%" % v.get("cpu_avg", 0), "%.1f%%" % v.get("memory_avg", 0),
                  "%.1f%%" % v.get("uptime_percent", 0), v.get("tasks_completed", 0), v.get("tasks_failed", 0),
                  rank.get(k, NONE)) for k, v in sorted(u.items())])
    o.show({"device_stats": s}, table)


def cmd_keys_create(args: argparse.Namespace, o: Out) -> None:
    if args.join:
        if args.scopes:
            raise UsageError("a join token's scope is agent; leave out --scopes")
        name = args.name or ("join " + args.pool if args.pool else "join")
        scopes = None
    else:
        if not args.name:
            raise UsageError("--name is required")
        if not args.scopes:
            raise UsageError("--scopes is required, e.g. --scopes read,write")
        name, scopes = args.name, args.scopes.split(",")
    lifetime = args.ttl if args.join else args.expires
    rl = {k: v for k, v in (("reads", args.rate_reads), ("writes", args.rate_writes),
                            ("streams", args.rate_streams)) if v}
    k = client_of(args).keys.create(name, scopes, signed=args.signed,
                                    expires_in=int(lifetime) if lifetime else None, join=args.join,
                                    pool=args.pool, uses=args.uses if args.join else None, rate_limits=rl or None)
    show_created(k, o)


def show_created(k: Dict[str, Any], o: Out) -> None:
    def table() -> None:
        key = k["key"]
        pairs = [("ID", key["id"]), ("Name", key["name"]), ("Kind", key["kind"]),
                 ("Scopes", ",".join(key.get("scopes") or [])), ("Token", k["token"])]
        if k.get("secret"):
            pairs.append(("Secret", k["secret"]))
        o.fields(pairs)
        o.print("", "The token%s is shown only now: keep it safe." % (" and secret are" if k.get("secret") else ""))
    o.show(k, table)


def cmd_keys_list(args: argparse.Namespace, o: Out) -> None:
    page = client_of(args).keys.list(kind=args.kind, include_revoked=args.all)

    def table() -> None:
        if not page:
            o.print("No keys.")
            return
        o.table(("ID", "NAME", "KIND", "STATUS", "SCOPES", "SIGNED", "CREATED", "EXPIRES"),
                [(k["id"], k["name"], k["kind"], k["status"], ",".join(k.get("scopes") or []),
                  "yes" if k.get("signed") else "no", ago(k.get("created_at")), or_none(k.get("expires_at")))
                 for k in page])
    o.show(page.data, table)


def cmd_keys_get(args: argparse.Namespace, o: Out) -> None:
    k = client_of(args).keys.get(args.id)
    o.show({"key": k}, lambda: o.fields([(name.replace("_", " ").capitalize(), or_none(
        ",".join(v) if isinstance(v, list) else v)) for name, v in k.items()]))


def cmd_keys_revoke(args: argparse.Namespace, o: Out) -> None:
    r = client_of(args).keys.revoke(args.id)
    o.show(r, lambda: o.print("Revoked key %s" % r["revoked_key"]))


def cmd_keys_rotate(args: argparse.Namespace, o: Out) -> None:
    show_created(client_of(args).keys.rotate(args.id, args.grace), o)


# ----- the parser -----

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError("%s\nRun '%s --help' for usage." % (message, self.prog))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="retire-cluster", description="Manage a Drover (Retire-Cluster) cluster over its REST API.")
    p.add_argument("--api-url", help="server address (default: $RETIRE_CLUSTER_API_URL, then config api_url, "
                                     "then %s)" % DEFAULT_URL)
    p.add_argument("--api-key", help="API key (default: $RETIRE_CLUSTER_API_KEY, then config api_key)")
    p.add_argument("--api-secret", help="secret of a signed-mode key: signs every request")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table",
                   help="table (for people) or json (the API's data, for scripts)")
    nouns = p.add_subparsers(dest="noun", metavar="COMMAND", parser_class=_Parser)
    nouns.required = True

    def verbs(name: str, help: str) -> Any:
        sp = nouns.add_parser(name, help=help)
        v = sp.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
        v.required = True
        return v

    def cmd(group: Any, name: str, fn: Callable[..., None], help: str) -> argparse.ArgumentParser:
        c = group.add_parser(name, help=help, description=help)
        c.set_defaults(fn=fn)
        return c

    g = verbs("config", "the CLI's own settings: api_url, api_key, api_secret")
    c = cmd(g, "set", cmd_config_set, "set api_url, api_key or api_secret (an empty VALUE clears it)")
    c.add_argument("key")
    c.add_argument("value")
    c = cmd(g, "get", cmd_config_get, "show the settings (keys are not printed), or one setting's value")
    c.add_argument("key", nargs="?")
    cmd(g, "path", cmd_config_path, "print where the settings file is")

    g = verbs("cluster", "the whole cluster")
    cmd(g, "status", cmd_cluster_status, "devices, resources, roles and tasks")
    cmd(g, "health", cmd_cluster_health, "health checks of the cluster's parts")
    c = cmd(g, "metrics", cmd_cluster_metrics, "resource use and task outcomes over a period")
    c.add_argument("--period", choices=("1h", "24h", "7d", "30d"))
    c.add_argument("--type", choices=("cpu", "memory", "network", "disk", "tasks"))

    g = verbs("devices", "the workers of the cluster")
    c = cmd(g, "list", cmd_devices_list, "list devices")
    c.add_argument("--status", help="online, offline, draining or all")
    c.add_argument("--role", help="e.g. compute, mobile, storage")
    c.add_argument("--sort", choices=("name", "cpu", "memory", "last_seen"))
    c.add_argument("--limit", type=int)
    c = cmd(g, "get", cmd_devices_get, "show a device in detail")
    c.add_argument("id")
    c = cmd(g, "ping", cmd_devices_ping, "round trips through the device's control channel")
    c.add_argument("id")
    c.add_argument("--timeout", type=float, help="seconds per probe (default 5)")
    c.add_argument("--count", type=int, help="probes (default 3)")
    c = cmd(g, "remove", cmd_devices_remove, "remove a device")
    c.add_argument("id")
    c.add_argument("--force", action="store_true", help="even while it runs tasks, cancelling them")

    g = verbs("tasks", "submit, list, follow and control tasks")
    c = cmd(g, "submit", cmd_tasks_submit, "submit a task of TYPE (echo, sleep, http, shell or a worker's own)")
    c.add_argument("type")
    c.add_argument("--payload", help="the task's input as JSON, or @FILE")
    c.add_argument("--priority", choices=("low", "normal", "high", "critical"))
    c.add_argument("--queue", help="queue to wait in (default FifoQ)")
    c.add_argument("--device", help="run on this device only")
    c.add_argument("--timeout", type=duration, help="kill the task after this long: seconds or e.g. 10m")
    c.add_argument("--max-retries", type=int)
    c.add_argument("--delay", type=duration, help="start no sooner than this long from now")
    c.add_argument("--idempotency-key", help="submitting twice with the same key returns the first task")
    c.add_argument("--label", action="append", help="label the task, k=v (repeatable)")
    c.add_argument("--require-cpu", type=int, help="only a device with at least N CPU cores")
    c.add_argument("--require-memory-gb", type=float)
    c.add_argument("--require-platform")
    c.add_argument("--require-role")
    c.add_argument("--require-label", action="append", help="only a device with this label, k=v (repeatable)")
    c.add_argument("--wait", action="store_true", help="wait for the task to end and print its output")
    c = cmd(g, "list", cmd_tasks_list, "list tasks, newest first")
    c.add_argument("--status", help="pending, running, completed, failed, cancelled or all")
    c.add_argument("--device")
    c.add_argument("--type")
    c.add_argument("--queue")
    c.add_argument("--since", help="created at or after (RFC 3339)")
    c.add_argument("--limit", type=int)
    c.add_argument("--offset", type=int)
    c = cmd(g, "get", cmd_tasks_get, "show a task: payload, result and log")
    c.add_argument("id")
    c = cmd(g, "cancel", cmd_tasks_cancel, "cancel a pending or running task")
    c.add_argument("id")
    c = cmd(g, "retry", cmd_tasks_retry, "submit a failed or cancelled task again")
    c.add_argument("id")
    c.add_argument("--priority", choices=("low", "normal", "high", "critical"))
    c = cmd(g, "logs", cmd_tasks_logs, "print a task's log")
    c.add_argument("id")
    c.add_argument("-f", "--follow", action="store_true", help="follow the log until the task ends")
    c.add_argument("-t", "--timestamps", action="store_true", help="start each line with its time")
    c = cmd(g, "wait", cmd_tasks_wait, "wait for a task to end and print its output")
    c.add_argument("id")
    c.add_argument("--timeout", type=duration, help="give up after this long")

    c = nouns.add_parser("logs", help="the cluster's own log", description="the cluster's own log")
    c.set_defaults(fn=cmd_logs)
    c.add_argument("--level", choices=("debug", "info", "warning", "error"))
    c.add_argument("--device")
    c.add_argument("--component")
    c.add_argument("--task")
    c.add_argument("--since", help="RFC 3339 time or a duration back from now (1h)")
    c.add_argument("--limit", type=int)

    c = nouns.add_parser("monitor", help="follow the cluster's events as they happen (Ctrl-C to stop)",
                         description="Follow GET /api/v1/monitor/stream; a broken connection resumes "
                                     "after the last event seen. With -o json, one JSON object per line.")
    c.set_defaults(fn=cmd_monitor)
    c.add_argument("--types", help="comma list of groups (devices, tasks, logs, pools, runs) or event types")
    c.add_argument("--device", help="only this device's events")
    c.add_argument("--since-id", type=int, help="start after this event id (default: from now)")
    c.add_argument("--count", type=int, help="stop after this many events")

    g = verbs("stats", "task and device statistics")
    c = cmd(g, "tasks", cmd_stats_tasks, "task outcomes over a period")
    c.add_argument("--period", choices=("1h", "24h", "7d", "30d"))
    c.add_argument("--group-by", choices=("device", "task_type", "hour"))
    c = cmd(g, "devices", cmd_stats_devices, "device utilization and ranking over a period")
    c.add_argument("--period", choices=("1h", "24h", "7d", "30d"))

    g = verbs("keys", "API keys and worker join tokens (admin)")
    c = cmd(g, "create", cmd_keys_create, "create an API key or a join token")
    c.add_argument("--name")
    c.add_argument("--scopes", help="comma list: read, write, admin, agent, exec:shell")
    c.add_argument("--signed", action="store_true", help="signed mode: a token and a secret")
    c.add_argument("--expires", type=duration, help="lifetime (default: never)")
    c.add_argument("--rate-reads", type=int)
    c.add_argument("--rate-writes", type=int)
    c.add_argument("--rate-streams", type=int)
    c.add_argument("--join", action="store_true", help="a worker join token instead of an API key")
    c.add_argument("--pool")
    c.add_argument("--ttl", type=duration, default=3600.0, help="how long a join token stays valid (default 1h)")
    c.add_argument("--uses", type=int, default=1, help="how many workers a join token may admit")
    c = cmd(g, "list", cmd_keys_list, "list keys")
    c.add_argument("--kind", choices=("api", "join", "all"))
    c.add_argument("--all", action="store_true", help="include revoked keys")
    c = cmd(g, "get", cmd_keys_get, "show a key")
    c.add_argument("id")
    c = cmd(g, "revoke", cmd_keys_revoke, "revoke a key")
    c.add_argument("id")
    c = cmd(g, "rotate", cmd_keys_rotate, "replace a key by a new one")
    c.add_argument("id")
    c.add_argument("--grace", type=int, help="seconds the old key keeps working (default 3600)")
    return p


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        args.fn(args, Out(args, out, err))
        return 0
    except UsageError as e:
        err.write("Error: %s\n" % e)
        return 2
    except TaskError as e:
        err.write("Error: %s\n" % e)
        return 1
    except APIError as e:
        err.write("Error: %s\n" % e)
        for k in sorted(e.details):
            err.write("  %s: %s\n" % (k, json.dumps(e.details[k])))
        return 1
    except TransportError as e:
        err.write("Error: %s\nIs the server running? Start one with 'drover dev', or point --api-url or "
                  "$RETIRE_CLUSTER_API_URL at it.\n" % e)
        return 1
    except KeyboardInterrupt:
        err.write("Error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
