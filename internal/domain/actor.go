package domain

// Actor is who asks the engine for a change, for the rules that depend on
// it (shell tasks need exec:shell) and for the audit trail.
type Actor struct {
	// Authenticated is false when authentication is off: then anyone may
	// do whatever a route allows.
	Authenticated bool
	KeyID, Name   string
	Addr          string // the client's address
	// ExecShell: the key may create shell tasks (the exec:shell scope,
	// never implied by write: a shell task runs any command on a worker).
	ExecShell bool
}

// System is the engine acting on its own (a workflow's next step, a cron tick).
var System = Actor{Authenticated: true, Name: "system", ExecShell: true}

// String names the actor in the audit trail.
func (a Actor) String() string {
	switch {
	case !a.Authenticated:
		return "anonymous (auth off)"
	case a.KeyID == "":
		return a.Name
	}
	return a.KeyID + " (" + a.Name + ")"
}

// MayRun refuses a task type the actor may not create.
func (a Actor) MayRun(taskType string) error {
	if taskType != TypeShell || !a.Authenticated || a.ExecShell {
		return nil
	}
	return Errorf(CodePermissionDenied, "this needs the exec:shell scope, which key %s does not have", a.KeyID).
		With("reason", "forbidden").With("required_scope", "exec:shell")
}
