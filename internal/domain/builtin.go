package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
)

// The built-in task types every Go worker has (shell only with --allow-shell).
const (
	TypeEcho  = "echo"
	TypeSleep = "sleep"
	TypeHTTP  = "http"
	TypeShell = "shell"
)

// BuiltinTypes lists the built-in task types.
var BuiltinTypes = []string{TypeEcho, TypeSleep, TypeHTTP, TypeShell}

var typeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$`)

// ValidTypeName reports whether s may name a task type: 1–128 characters of
// letters, digits and _.:/- starting with a letter or digit.
func ValidTypeName(s string) bool { return typeNameRE.MatchString(s) }

// EchoPayload is the payload of an echo task.
type EchoPayload struct {
	Message string `json:"message"`
	Repeat  *int   `json:"repeat,omitempty"`
}

// SleepPayload is the payload of a sleep task.
type SleepPayload struct {
	Seconds float64 `json:"seconds"`
}

// HTTPPayload is the payload of an http task.
type HTTPPayload struct {
	URL          string            `json:"url"`
	Method       string            `json:"method,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body,omitempty"`
	ExpectStatus int               `json:"expect_status,omitempty"`
}

// ShellPayload is the payload of a shell task: Command run by /bin/sh -c, or Argv run directly.
type ShellPayload struct {
	Command string            `json:"command,omitempty"`
	Argv    []string          `json:"argv,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
}

// Limits on built-in payloads, so a typo cannot tie a worker up for a year.
const (
	MaxEchoRepeat   = 10000
	MaxSleepSeconds = 7 * 24 * 3600
)

// ValidateBuiltinPayload checks the payload of a built-in task type; other
// types' payloads are their handlers' business and pass unchecked.
func ValidateBuiltinPayload(typ string, payload json.RawMessage) error {
	if len(bytes.TrimSpace(payload)) == 0 || string(bytes.TrimSpace(payload)) == "null" {
		payload = json.RawMessage("{}")
	}
	switch typ {
	case TypeEcho:
		var p EchoPayload
		if err := decodeStrict(payload, &p); err != nil {
			return err
		}
		if p.Repeat != nil && (*p.Repeat < 1 || *p.Repeat > MaxEchoRepeat) {
			return fmt.Errorf("payload.repeat must be between 1 and %d", MaxEchoRepeat)
		}
	case TypeSleep:
		var p SleepPayload
		if err := decodeStrict(payload, &p); err != nil {
			return err
		}
		if p.Seconds < 0 || p.Seconds > MaxSleepSeconds {
			return fmt.Errorf("payload.seconds must be between 0 and %d", MaxSleepSeconds)
		}
	case TypeHTTP:
		var p HTTPPayload
		if err := decodeStrict(payload, &p); err != nil {
			return err
		}
		u, err := url.Parse(p.URL)
		if p.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("payload.url must be an absolute http or https URL")
		}
		if p.ExpectStatus != 0 && (p.ExpectStatus < 100 || p.ExpectStatus > 599) {
			return fmt.Errorf("payload.expect_status must be an HTTP status code")
		}
	case TypeShell:
		var p ShellPayload
		if err := decodeStrict(payload, &p); err != nil {
			return err
		}
		if (p.Command == "") == (len(p.Argv) == 0) {
			return fmt.Errorf("payload needs exactly one of command (a string for /bin/sh -c) or argv (a list)")
		}
	}
	return nil
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	return nil
}
