package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
)

// MonitorService reads the cluster's live event stream:
// GET /api/v1/monitor/stream (Server-Sent Events).
type MonitorService struct{ c *Client }

// StreamOptions select the events of a stream.
type StreamOptions struct {
	// Types are groups (devices, tasks, logs, pools, runs, config) or exact
	// event types (task_completed, …); none means every event.
	Types    []string
	DeviceID string
	// LastEventID resumes after this event id; 0 starts with the events
	// that happen from now on.
	LastEventID int64
	// Reconnect is the wait before reconnecting after the stream broke
	// (default 1s); the stream resumes after the last event received, so
	// nothing is missed and nothing is seen twice.
	Reconnect time.Duration
}

// Stream calls fn for every event of the given types (document 001's
// client.monitor.stream(['tasks'])) until ctx ends (it then returns nil)
// or fn returns an error (which it returns). A broken connection is
// resumed with Last-Event-ID.
func (s *MonitorService) Stream(ctx context.Context, types []string, fn func(api.StreamEvent) error) error {
	return s.StreamWith(ctx, StreamOptions{Types: types}, fn)
}

// StreamWith is Stream with every option.
func (s *MonitorService) StreamWith(ctx context.Context, opts StreamOptions, fn func(api.StreamEvent) error) error {
	wait := opts.Reconnect
	if wait <= 0 {
		wait = time.Second
	}
	last := opts.LastEventID
	for {
		err := s.once(ctx, opts, &last, fn)
		if ctx.Err() != nil {
			return nil
		}
		var fnErr *callbackError
		if asCallback(err, &fnErr) {
			return fnErr.err
		}
		if apiErr, ok := err.(*Error); ok && apiErr.StatusCode/100 == 4 && apiErr.StatusCode != http.StatusTooManyRequests {
			return err // a bad filter will not get better
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

func asCallback(err error, target **callbackError) bool {
	e, ok := err.(*callbackError)
	if ok {
		*target = e
	}
	return ok
}

// once reads one connection of the stream, advancing *last.
func (s *MonitorService) once(ctx context.Context, opts StreamOptions, last *int64, fn func(api.StreamEvent) error) error {
	q := url.Values{}
	if len(opts.Types) > 0 {
		q.Set("types", strings.Join(opts.Types, ","))
	}
	setString(q, "device_id", opts.DeviceID)
	target := s.c.root + apiPrefix + "/monitor/stream"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", s.c.userAgent)
	if *last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(*last, 10))
	}
	if s.c.apiKey != "" {
		req.Header.Set("X-API-Key", s.c.apiKey)
	}
	if s.c.signer != nil {
		s.c.signer.sign(req, nil)
	}
	resp, err := s.c.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return newError(resp, body)
	}
	return readEvents(resp.Body, func(id int64, data []byte) error {
		var ev api.StreamEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("client: stream event %d: %w", id, err)
		}
		_ = json.Unmarshal(data, &ev.Fields)
		if id > 0 {
			*last = id
		}
		if err := fn(ev); err != nil {
			return &callbackError{err}
		}
		return nil
	})
}

// readEvents parses an SSE body: "id:" and "data:" fields, events ended
// by a blank line, comments (":") ignored.
func readEvents(r io.Reader, emit func(id int64, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var (
		id   int64
		data []byte
	)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				if err := emit(id, data); err != nil {
					return err
				}
			}
			id, data = 0, data[:0]
		case line[0] == ':':
		default:
			field, value, _ := strings.Cut(string(line), ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id, _ = strconv.ParseInt(value, 10, 64)
			case "data":
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF // the server ended the stream: reconnect
}
