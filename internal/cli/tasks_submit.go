package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-run/drover/api"
)

// submitFlags are the flags of drover tasks submit, turned into a request by
// request.
type submitFlags struct {
	payload        string
	priority       string
	queue          string
	host           string
	device         string
	timeout        secondsFlag
	maxRetries     int
	delay          secondsFlag
	idempotencyKey string
	labels         keyValues
	requireCPU     int
	requireMemory  float64
	requirePlat    string
	requireRole    string
	requireLabels  keyValues
	wait           bool
	stdin          io.Reader // what --payload @- reads
}

func newTasksSubmitCommand(m *meta) *cobra.Command {
	sf := submitFlags{stdin: m.in}
	cmd := &cobra.Command{
		Use:   "submit TYPE",
		Short: "Submit a task",
		Long: `Submit a task of type TYPE (echo, sleep, http, shell or one a worker
registered). With --wait, stream its log and progress to stderr until it
ends, then print its output; the command then fails if the task did, with the task's
exit code when it has one. --payload @FILE reads the payload from FILE,
--payload @- from the standard input.`,
		Example: `  drover tasks submit echo --payload '{"message": "hello", "repeat": 2}' --wait
  drover tasks submit shell --payload @job.json --require-role compute --timeout 10m
  drover tasks submit sleep --payload '{"seconds": 5}' --idempotency-key nightly-2023-01-01`,
		Args: exactArgs("TYPE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := sf.request(args[0], cmd.Flags())
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			sub, err := c.Tasks.Submit(cmd.Context(), req)
			if err != nil {
				return err
			}
			if !sf.wait {
				return m.show(func(w io.Writer) {
					if sub.Duplicate {
						fmt.Fprintf(w, "Task %s was already submitted with this idempotency key (%s)\n", sub.TaskID, sub.Status)
						return
					}
					fmt.Fprintf(w, "Submitted task %s (%s)\n", sub.TaskID, sub.Status)
				})
			}
			// The id goes to errOut: out carries only the task's output.
			fmt.Fprintf(m.errOut, "Submitted task %s; waiting for it to end\n", sub.TaskID)
			return m.wait(cmd.Context(), c, sub.TaskID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sf.payload, "payload", "", "the task's input as JSON, or @FILE to read it from FILE (@- from stdin)")
	f.StringVar(&sf.priority, "priority", "", "low, normal (default), high or critical")
	f.StringVar(&sf.queue, "queue", "", "queue to wait in (default FifoQ)")
	f.StringVar(&sf.host, "host", "", "target host: run on a worker started with --pin-host HOST (queue pinned_HOST)")
	f.StringVar(&sf.device, "device", "", "run on this device only")
	f.Var(&sf.timeout, "timeout", "kill the task after this long: seconds or a duration like 10m (default: the server's)")
	f.IntVar(&sf.maxRetries, "max-retries", 0, "run a failed task again up to this many times (default: the server's)")
	f.Var(&sf.delay, "delay", "start no sooner than this long from now: seconds or a duration")
	f.StringVar(&sf.idempotencyKey, "idempotency-key", "", "submitting twice with the same key returns the first task")
	f.Var(&sf.labels, "label", "label the task (repeatable)")
	f.IntVar(&sf.requireCPU, "require-cpu", 0, "run only on a device with at least N CPU cores")
	f.Float64Var(&sf.requireMemory, "require-memory-gb", 0, "run only on a device with at least this much memory, in GB")
	f.StringVar(&sf.requirePlat, "require-platform", "", "run only on this platform, e.g. linux or android")
	f.StringVar(&sf.requireRole, "require-role", "", "run only on a device of this role, e.g. compute")
	f.Var(&sf.requireLabels, "require-label", "run only on a device with this label (repeatable)")
	f.BoolVar(&sf.wait, "wait", false, "wait for the task to end and print its output")
	return cmd
}

// request builds the submit request. Optional numbers go in only when their
// flag was given, so the server's defaults apply otherwise.
func (sf *submitFlags) request(taskType string, flags *pflag.FlagSet) (api.SubmitTaskRequest, error) {
	req := api.SubmitTaskRequest{
		TaskType:       taskType,
		Priority:       sf.priority,
		Queue:          sf.queue,
		Host:           sf.host,
		DeviceID:       sf.device,
		IdempotencyKey: sf.idempotencyKey,
		Labels:         sf.labels,
	}
	payload, err := readPayload(sf.payload, sf.stdin)
	if err != nil {
		return req, err
	}
	req.Payload = payload
	if flags.Changed("timeout") {
		req.Timeout = new(int(math.Ceil(float64(sf.timeout)))) // the API counts whole seconds
	}
	if flags.Changed("max-retries") {
		if sf.maxRetries < 0 {
			return req, usageErrorf("--max-retries %d is negative", sf.maxRetries)
		}
		req.MaxRetries = new(sf.maxRetries)
	}
	if flags.Changed("delay") {
		req.DelaySeconds = new(float64(sf.delay))
	}
	r := api.Requirements{
		MinCPUCores: sf.requireCPU,
		MinMemoryGB: sf.requireMemory,
		Platform:    sf.requirePlat,
		Role:        sf.requireRole,
		Labels:      sf.requireLabels,
	}
	if r.MinCPUCores != 0 || r.MinMemoryGB != 0 || r.Platform != "" || r.Role != "" || len(r.Labels) > 0 {
		req.Requirements = &r
	}
	return req, nil
}

// readPayload reads --payload: inline JSON, @FILE, or @- for stdin.
// Checking it here turns a typo into a usage error instead of a request the
// server must refuse.
func readPayload(v string, stdin io.Reader) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	b := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if name == "-" {
			if stdin == nil {
				stdin = os.Stdin
			}
			b, err = io.ReadAll(io.LimitReader(stdin, 8<<20))
		} else {
			b, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, usageErrorf("--payload: %v", err)
		}
		b = bytes.TrimSpace(b)
	}
	if !json.Valid(b) {
		var probe any
		err := json.Unmarshal(b, &probe)
		return nil, usageErrorf("--payload is not valid JSON: %v", err)
	}
	return json.RawMessage(b), nil
}
