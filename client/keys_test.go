package client_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
)

// as returns a client of b's server with opts instead of the admin key.
func (b *bundle) as(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(b.srv.APIURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// status is the HTTP status of err, an error answer, or 0.
func status(err error) int {
	if ce, ok := errors.AsType[*client.Error](err); ok {
		return ce.StatusCode
	}
	return 0
}

func TestKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{Auth: true})
	ctx := t.Context()

	created, err := b.c.Keys.Create(ctx, api.CreateKeyRequest{Name: "ci", Scopes: []string{"read"}, ExpiresIn: 3600})
	if err != nil {
		t.Fatal(err)
	}
	k := created.Key
	if created.Token == "" || created.Secret != "" || k.ID == "" || k.Name != "ci" || k.Kind != "api" || k.Status != "active" ||
		!slices.Equal(k.Scopes, []string{"read"}) || k.ExpiresAt == nil {
		t.Errorf("Create = %+v", created)
	}
	if got, err := b.c.Keys.Get(ctx, k.ID); err != nil || got.ID != k.ID || got.Name != "ci" {
		t.Errorf("Get(%s) = %+v, %v", k.ID, got, err)
	}

	// The key works, within its scope.
	ci := b.as(t, client.WithAPIKey(created.Token))
	if _, err := ci.Tasks.List(ctx, client.TaskListOptions{}); err != nil {
		t.Errorf("a read key: List = %v", err)
	}
	if _, err := ci.Tasks.Submit(ctx, echo("x", 1)); status(err) != http.StatusForbidden || !isCode(err, "PERMISSION_DENIED") {
		t.Errorf("a read key: Submit = %v, want 403 PERMISSION_DENIED", err)
	}
	if _, err := b.as(t).Tasks.List(ctx, client.TaskListOptions{}); status(err) != http.StatusUnauthorized {
		t.Errorf("no key: List = %v, want 401", err)
	}

	join, err := b.c.Keys.Create(ctx, api.CreateKeyRequest{Name: "join gpu", Join: true, Pool: "gpu", Uses: 2})
	if err != nil || join.Key.Kind != "join" || join.Key.Pool != "gpu" || join.Key.MaxUses != 2 {
		t.Fatalf("Create(join) = %+v, %v", join, err)
	}
	for _, tc := range []struct {
		opts client.KeyListOptions
		want []string
	}{
		{client.KeyListOptions{Kind: "join"}, []string{join.Key.ID}},
		{client.KeyListOptions{Kind: "api"}, []string{"seed", k.ID}},
	} {
		got, err := b.c.Keys.List(ctx, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, key := range got.Keys {
			if key.Name == "seed (--api-key)" {
				key.ID = "seed"
			}
			ids = append(ids, key.ID)
		}
		slices.Sort(ids)
		slices.Sort(tc.want)
		if !slices.Equal(ids, tc.want) || got.Total != len(tc.want) {
			t.Errorf("List(%+v) = %q (total %d), want %q", tc.opts, ids, got.Total, tc.want)
		}
	}

	// Rotation without grace: the old token stops at once, the new one works.
	rotated, err := b.c.Keys.Rotate(ctx, k.ID, new(int64(0)))
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Token == "" || rotated.Key.ID == k.ID || rotated.Key.Name != "ci" || rotated.OldKey == nil || rotated.OldKey.ID != k.ID {
		t.Errorf("Rotate = %+v", rotated)
	}
	if want := `{"grace_seconds":0}`; b.rec.last(t).Body != want {
		t.Errorf("Rotate body %s, want %s", b.rec.last(t).Body, want)
	}
	if _, err := ci.Tasks.List(ctx, client.TaskListOptions{}); status(err) != http.StatusUnauthorized {
		t.Errorf("the rotated-out key: List = %v, want 401", err)
	}
	next := b.as(t, client.WithAPIKey(rotated.Token))
	if _, err := next.Tasks.List(ctx, client.TaskListOptions{}); err != nil {
		t.Errorf("the new key: List = %v", err)
	}

	revoked, err := b.c.Keys.Revoke(ctx, rotated.Key.ID)
	if err != nil || revoked.RevokedKey != rotated.Key.ID || revoked.RevokedAt.IsZero() {
		t.Errorf("Revoke = %+v, %v", revoked, err)
	}
	if _, err := next.Tasks.List(ctx, client.TaskListOptions{}); status(err) != http.StatusUnauthorized {
		t.Errorf("a revoked key: List = %v, want 401", err)
	}
	all, err := b.c.Keys.List(ctx, client.KeyListOptions{Kind: "api", IncludeRevoked: true})
	if err != nil || all.Total != 3 {
		t.Errorf("List(api, include revoked) = %+v, %v; want the seed, the old and the revoked key", all, err)
	}
	if q := b.rec.last(t).Query; q != "include_revoked=true&kind=api" {
		t.Errorf("List query %q", q)
	}
	if _, err := b.c.Keys.Get(ctx, "key-nope"); status(err) != http.StatusNotFound {
		t.Errorf("Get(key-nope) = %v, want 404", err)
	}
}

// A signed-mode key never sends its secret: each request is signed with
// it, and the server checks the signature.
func TestSignedMode(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{Auth: true})
	ctx := t.Context()
	created, err := b.c.Keys.Create(ctx, api.CreateKeyRequest{Name: "scaler", Scopes: []string{"write"}, Signed: true})
	if err != nil {
		t.Fatal(err)
	}
	if created.Secret == "" || !created.Key.Signed {
		t.Fatalf("Create(signed) = %+v, want a secret", created)
	}
	rec := &recorder{}
	signed := b.as(t, client.WithSigningKey(created.Token, created.Secret), client.WithHTTPClient(&http.Client{Transport: rec}))

	sub, err := signed.Tasks.Submit(ctx, echo("signed", 1))
	if err != nil {
		t.Fatalf("signed Submit = %v", err)
	}
	if _, err := signed.Tasks.List(ctx, client.TaskListOptions{Status: "pending", Limit: 5}); err != nil {
		t.Errorf("signed List with a query = %v", err)
	}
	if _, err := signed.Tasks.Get(ctx, sub.TaskID); err != nil {
		t.Errorf("signed Get = %v", err)
	}
	// The stream is signed too: a filter refused for what it is (400, not
	// 401) got past the signature check.
	if err := signed.Monitor.Stream(ctx, []string{"nope"}, func(api.StreamEvent) error { return nil }); status(err) != http.StatusBadRequest {
		t.Errorf("signed Stream(nope) = %v, want 400", err)
	}
	h := rec.last(t).Header
	if h.Get("token") != created.Token || h.Get("sign_str") == "" || h.Get("timestamp") == "" || h.Get("version") != client.SigningVersion || h.Get("X-Api-Key") != "" {
		t.Errorf("signed headers %v", h)
	}
	for _, r := range rec.requests() {
		for name, vs := range r.Header {
			if slices.Contains(vs, created.Secret) {
				t.Errorf("the secret went over the wire in %s", name)
			}
		}
	}

	wrong := b.as(t, client.WithSigningKey(created.Token, "not-the-secret"))
	if _, err := wrong.Tasks.List(ctx, client.TaskListOptions{}); status(err) != http.StatusUnauthorized {
		t.Errorf("a wrong secret: List = %v, want 401", err)
	}
	unsigned := b.as(t, client.WithAPIKey(created.Token))
	if _, err := unsigned.Tasks.List(ctx, client.TaskListOptions{}); status(err) != http.StatusUnauthorized {
		t.Errorf("a signed key without a signature: List = %v, want 401", err)
	}
}
