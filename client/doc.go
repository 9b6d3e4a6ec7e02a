// Package client is the Go SDK of Drover's native REST API (document 001,
// under /api/v1): submit and follow tasks, inspect and remove devices, read
// the cluster's state.
//
// A Client is safe for concurrent use. Its services mirror the Python client
// of document 001:
//
//	c, err := client.New("http://127.0.0.1:8081", client.WithAPIKey(key))
//	sub, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: payload})
//	task, err := c.Tasks.Wait(ctx, sub.TaskID, 0)
//
// Every answer of the API is an envelope; the SDK returns its data, decoded
// into the types of package api. An error answer comes back as an *Error,
// which carries the HTTP status and request id and unwraps to the *api.Error
// the server sent, so both errors.As targets work.
//
// The package imports only package api and the standard library.
package client
