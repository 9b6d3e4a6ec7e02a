package worker

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/drover-run/drover/api"
)

// echoPayload is the payload of "echo", as document 001 has it.
type echoPayload struct {
	Message string `json:"message"`
	Repeat  *int   `json:"repeat"` // default 1
}

// execEcho returns the message repeated, one per line, and logs each line.
// It is the no-op of benchmarks, so it avoids needless work.
func execEcho(_ context.Context, t *Task) (*api.TaskResult, error) {
	var p echoPayload
	if err := decodePayload(t, &p); err != nil {
		return nil, err
	}
	repeat := 1
	if p.Repeat != nil {
		repeat = *p.Repeat
	}
	if repeat < 1 {
		return nil, errors.New(`invalid echo payload: "repeat" must be at least 1`)
	}
	if (len(p.Message)+1)*repeat > maxOutput {
		return nil, errors.New("invalid echo payload: the output would exceed 1 MiB")
	}
	log := lineLog(t, "stdout")
	multiline := strings.Contains(p.Message, "\n")
	for range repeat {
		if multiline {
			io.WriteString(log, p.Message+"\n")
		} else {
			log.writeLine(p.Message)
		}
	}
	out := p.Message
	if repeat > 1 {
		var b strings.Builder
		b.Grow((len(p.Message) + 1) * repeat)
		for i := range repeat {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Message)
		}
		out = b.String()
	}
	return &api.TaskResult{Output: out}, nil
}
