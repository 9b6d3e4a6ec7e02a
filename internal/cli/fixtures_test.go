package cli

import (
	"bytes"
	"encoding/json"
)

// The fixtures are data objects as a server would send them, raw so that
// tests of -o json can check that every byte of meaning comes through,
// including fields the SDK does not know ("future_field").

const deviceListJSON = `{"devices":[
 {"id":"android-001","hostname":"pixel-4a","status":"online","role":"mobile",
  "platform":{"os":"android","arch":"arm64"},
  "resources":{"cpu_cores":8,"cpu_usage":45.2,"memory_total_gb":6,"memory_used_gb":2.1,"storage_total_gb":128,"storage_used_gb":40},
  "tasks":{"active":1,"completed":120,"failed":2},"last_seen":"2023-01-01T12:04:55Z","uptime_seconds":86400,
  "queues":["FifoQ"],"task_types":["echo","sleep"],"concurrency":2},
 {"id":"rpi-002","hostname":"","status":"offline","role":"compute",
  "platform":{"os":"linux","arch":"arm"},
  "resources":{"cpu_cores":4,"cpu_usage":0,"memory_total_gb":0,"memory_used_gb":0,"storage_total_gb":32,"storage_used_gb":8},
  "tasks":{"active":0,"completed":7,"failed":0},"last_seen":"2022-12-30T09:00:00Z","uptime_seconds":0,
  "queues":[],"task_types":[],"concurrency":1}
],"total":2,"online":1,"offline":1,"future_field":true}`

const deviceDetailJSON = `{"device":{"id":"android-001","hostname":"pixel-4a","status":"online","role":"mobile",
 "platform":{"os":"android","arch":"arm64","kernel":"4.19"},
 "resources":{"cpu_cores":8,"cpu_usage":45.2,"memory_total_gb":6,"memory_used_gb":2.1,"storage_total_gb":128,"storage_used_gb":40},
 "tasks":{"active":1,"completed":120,"failed":2},"last_seen":"2023-01-01T12:04:55Z","uptime_seconds":90061,
 "queues":["FifoQ","pinned_android-001"],"labels":{"site":"home","gpu":"no"},"task_types":["echo","sleep"],"concurrency":2,"version":"0.1.0",
 "detailed_info":{"capabilities":["echo","sleep","http"],"network_interfaces":["wlan0"],"sensors":[],"battery":{"level":85,"charging":true}},
 "performance_history":{"cpu_usage_24h":[10,20],"memory_usage_24h":[30,40],"task_count_24h":[1,2]}}}`

const taskListJSON = `{"tasks":[
 {"task_id":"task-abc123","task_type":"echo","status":"completed","device_id":"android-001","priority":"normal","queue":"FifoQ",
  "created_at":"2023-01-01T12:00:00Z","started_at":"2023-01-01T12:00:01Z","completed_at":"2023-01-01T12:00:02.5Z",
  "execution_time_seconds":1.5,"result":{"output":"hello\n","exit_code":0},"attempt":1,"max_retries":3,"timeout":300},
 {"task_id":"task-def456","task_type":"sleep","status":"pending","device_id":null,"priority":"high","queue":"FifoQ",
  "created_at":"2023-01-01T12:04:30Z","started_at":null,"completed_at":null,"execution_time_seconds":null,"result":null,
  "attempt":0,"max_retries":3,"timeout":300}
],"total":7,"pending":1,"running":0,"completed":5,"failed":1,"cancelled":0}`

const taskDetailJSON = `{"task":{"task_id":"task-abc123","task_type":"echo","status":"completed","device_id":"android-001",
 "priority":"normal","queue":"FifoQ","created_at":"2023-01-01T12:00:00Z","started_at":"2023-01-01T12:00:01Z",
 "completed_at":"2023-01-01T12:00:02.5Z","execution_time_seconds":1.5,
 "result":{"output":"hello\nhello\n","exit_code":0},"attempt":1,"max_retries":3,"timeout":300,
 "labels":{"team":"infra"},"idempotency_key":"nightly-1",
 "detailed_log":["2023-01-01T12:00:01Z: started on android-001","2023-01-01T12:00:02Z: completed"],
 "resource_usage":{"peak_cpu_percent":12.5,"peak_memory_mb":20.25,"total_cpu_time_seconds":0.05},
 "payload":{"message":"hello","repeat":2},"future_field":{"nested":[1,2.50,"x"]}}}`

const clusterStatusJSON = `{"cluster_stats":{"total_devices":5,"online_devices":4,"offline_devices":1,"health_percentage":80,
 "total_resources":{"cpu_cores":24,"memory_gb":64,"storage_gb":1000},
 "by_role":{"storage":1,"compute":2,"mobile":2},"uptime":"15d 6h 42m",
 "tasks":{"failed":1,"pending":3,"completed":20,"running":1,"cancelled":0}}}`

const clusterHealthJSON = `{"overall_health":"warning","checks":{
 "resources":{"status":"warning","cpu_usage":85.5,"memory_usage":78.2},
 "database":{"status":"healthy","response_time_ms":2.5},
 "network":{"status":"healthy","connected_devices":4}}}`

// taskJSON is the detail of a task in the given state, with the output and
// error of its end.
func taskJSON(id, status, output, errMsg string, exitCode int) string {
	b, _ := json.Marshal(map[string]any{"task": map[string]any{
		"task_id": id, "task_type": "echo", "status": status, "created_at": "2023-01-01T12:00:00Z",
		"result": map[string]any{"output": output, "exit_code": exitCode}, "error": errMsg,
	}})
	return string(b)
}

func jsonIndent(buf *bytes.Buffer, raw string) error {
	if err := json.Indent(buf, []byte(raw), "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return nil
}
