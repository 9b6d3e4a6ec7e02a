package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// maxOutput caps a result's output; longer output keeps its tail, where
// the error usually is.
const maxOutput = 1 << 20

// decodePayload decodes t's payload into v, or says precisely why it
// cannot. An absent payload decodes as {}.
func decodePayload(t *Task, v any) error {
	p := bytes.TrimSpace(t.Payload)
	if len(p) == 0 || bytes.Equal(p, []byte("null")) {
		p = []byte("{}")
	}
	if p[0] != '{' {
		return fmt.Errorf("invalid %s payload: want a JSON object", t.Type)
	}
	if err := json.Unmarshal(p, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("invalid %s payload: %q must be %s, not %s", t.Type, te.Field, kindName(te.Type.Kind().String()), te.Value)
		}
		return fmt.Errorf("invalid %s payload: %v", t.Type, err)
	}
	return nil
}

func kindName(k string) string {
	switch k {
	case "int", "int64", "float64":
		return "a number"
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return k
}

// truncatedNote heads an output whose beginning was cut.
func truncatedNote(n int) string { return fmt.Sprintf("[%d bytes truncated]\n", n) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.max {
		b.dropped += len(b.buf) + len(p) - b.max
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return n, nil
	}
	// Let the buffer grow to twice max before cutting, so each byte is
	// moved at most once on average.
	if len(b.buf)+len(p) > 2*b.max {
		cut := len(b.buf) + len(p) - b.max
		b.dropped += cut
		b.buf = b.buf[:copy(b.buf, b.buf[cut:])]
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// String returns the kept output, with a note if its head was cut.
func (b *tailBuffer) String() string {
	out := b.buf
	dropped := b.dropped
	if len(out) > b.max {
		dropped += len(out) - b.max
		out = out[len(out)-b.max:]
	}
	if dropped == 0 {
		return string(out)
	}
	return truncatedNote(dropped) + string(out)
}
