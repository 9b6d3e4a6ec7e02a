package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"

	"github.com/drover-run/drover/internal/domain"
)

var objectName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)

const maxObjectBytes = 64 << 10

func checkObject(kind, name string, size int) error {
	if !objectName.MatchString(name) {
		return invalid("%s name %q must be 1-128 letters, digits, '_', '.' or '-', starting with a letter or '_'", kind, name).With("field", "name")
	}
	if size > maxObjectBytes {
		return invalid("a %s holds at most %d bytes", kind, maxObjectBytes).With("field", "value")
	}
	return nil
}

func objNotFound(err error, kind, name string) error {
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Errorf(domain.CodeNotFound, "%s '%s' does not exist", kind, name).With(kind, name)
	}
	return err
}

// SetVariable creates or changes a variable; tasks created from then on see it.
func (e *Engine) SetVariable(ctx context.Context, name, value string) (*domain.Object, error) {
	if err := checkObject(domain.ObjectVariable, name, len(value)); err != nil {
		return nil, err
	}
	o := &domain.Object{Kind: domain.ObjectVariable, Name: name, Value: []byte(value)}
	if err := e.st.ObjectPut(ctx, o); err != nil {
		return nil, err
	}
	return o, nil
}

// Variables lists the variables.
func (e *Engine) Variables(ctx context.Context) ([]*domain.Object, error) {
	return e.st.ObjectList(ctx, domain.ObjectVariable)
}

// Variable returns one variable.
func (e *Engine) Variable(ctx context.Context, name string) (*domain.Object, error) {
	o, err := e.st.ObjectGet(ctx, domain.ObjectVariable, name, 0)
	return o, objNotFound(err, domain.ObjectVariable, name)
}

// DeleteObject removes a variable, connection or template.
func (e *Engine) DeleteObject(ctx context.Context, kind, name string) error {
	return objNotFound(e.st.ObjectDelete(ctx, kind, name), kind, name)
}

// ObjectByID returns a variable, connection or template by its integer id
// (document 002 addresses connections so); a connection's value is blanked.
func (e *Engine) ObjectByID(ctx context.Context, kind string, id int64) (*domain.Object, error) {
	o, err := e.st.ObjectGet(ctx, kind, "", id)
	if err != nil {
		return nil, notFound(err, kind, id)
	}
	if kind == domain.ObjectConnection {
		o.Value = nil
	}
	return o, nil
}

// substitutions are the variables, by name.
func (e *Engine) substitutions(ctx context.Context) (map[string]string, error) {
	vs, err := e.Variables(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(vs))
	for _, v := range vs {
		m[v.Name] = string(v.Value)
	}
	return m, nil
}

// connSealed prefixes a stored connection sealed with the server key (the
// prefix leaves room for other ways of keeping them).
const connSealed = 1

// SetConnection creates or replaces a connection (a named secret). The
// returned object carries no value: a secret is never given back.
func (e *Engine) SetConnection(ctx context.Context, name, secret string) (*domain.Object, error) {
	if err := checkObject(domain.ObjectConnection, name, len(secret)); err != nil {
		return nil, err
	}
	if e.sealer == nil {
		// Secrets are never stored in clear (docs/guarantees.md G13).
		return nil, domain.Errorf(domain.CodeValidation,
			"connections are sealed with the server key, and this server has none: start it with --secret-key-file or DROVER_SECRET_KEY")
	}
	v := append([]byte{connSealed}, e.sealer.Seal("connection:"+name, secret)...)
	o := &domain.Object{Kind: domain.ObjectConnection, Name: name, Value: v}
	if err := e.st.ObjectPut(ctx, o); err != nil {
		return nil, err
	}
	o.Value = nil
	return o, nil
}

// Connections lists the connections, without their values.
func (e *Engine) Connections(ctx context.Context) ([]*domain.Object, error) {
	cs, err := e.st.ObjectList(ctx, domain.ObjectConnection)
	for _, c := range cs {
		c.Value = nil
	}
	return cs, err
}

func (e *Engine) connectionValue(ctx context.Context, name string) (string, error) {
	o, err := e.st.ObjectGet(ctx, domain.ObjectConnection, name, 0)
	if err != nil {
		return "", objNotFound(err, domain.ObjectConnection, name)
	}
	if len(o.Value) == 0 {
		return "", nil
	}
	if o.Value[0] != connSealed || e.sealer == nil {
		return "", errors.New("it is sealed and this server has no server key to open it")
	}
	return e.sealer.Open("connection:"+name, o.Value[1:])
}

// SetTemplate creates or replaces a template: a reusable step spec.
func (e *Engine) SetTemplate(ctx context.Context, actor domain.Actor, name string, spec domain.Step) (*domain.Object, error) {
	if err := actor.MayRun(spec.TaskType); err != nil {
		return nil, err
	}
	spec.Name = "template"
	if err := checkStep(spec); err != nil {
		return nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := checkObject(domain.ObjectTemplate, name, len(b)); err != nil {
		return nil, err
	}
	o := &domain.Object{Kind: domain.ObjectTemplate, Name: name, Value: b}
	return o, e.st.ObjectPut(ctx, o)
}

// Template returns a template's step spec.
func (e *Engine) Template(ctx context.Context, name string) (*domain.Step, error) {
	o, err := e.st.ObjectGet(ctx, domain.ObjectTemplate, name, 0)
	if err != nil {
		return nil, objNotFound(err, domain.ObjectTemplate, name)
	}
	var s domain.Step
	if err := json.Unmarshal(o.Value, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Templates lists the templates.
func (e *Engine) Templates(ctx context.Context) ([]*domain.Object, error) {
	return e.st.ObjectList(ctx, domain.ObjectTemplate)
}

// Reload makes every server pick up changed variables, connections and
// templates. They are read from the store whenever a task is created, so
// there is nothing cached to drop; it wakes the advance loop.
func (e *Engine) Reload(ctx context.Context) error {
	e.Wake()
	return nil
}
