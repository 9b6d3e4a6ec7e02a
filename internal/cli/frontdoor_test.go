package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
)

func TestReadPayloadFromStdin(t *testing.T) {
	t.Parallel()
	got, err := readPayload("@-", strings.NewReader(`{"message": "from stdin"}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"message": "from stdin"}` {
		t.Errorf("readPayload(@-) = %s", got)
	}
	if _, err := readPayload("@-", strings.NewReader("not json")); err == nil {
		t.Error("readPayload(@-) of bad JSON succeeded")
	}
}

func TestLogDurationsReadable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: readableDuration})).Info("x", "took", 1500*time.Millisecond)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["took"] != "1.5s" {
		t.Errorf("took = %v, want 1.5s", line["took"])
	}
}

func TestTaskExitCodeIsTheCommands(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code, want int
	}{{3, 3}, {0, exitError}, {137, exitError}} {
		var errOut bytes.Buffer
		m := newMeta(&bytes.Buffer{}, &errOut, func(string) string { return "" })
		task := &api.Task{TaskID: "t1", Status: "failed", Result: &api.TaskResult{ExitCode: tc.code}}
		if got := m.report(newRoot(m), &taskError{task: task}); got != tc.want {
			t.Errorf("exit code of a task that exited %d = %d, want %d", tc.code, got, tc.want)
		}
	}
}
