package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newKeysCommand(m *meta) *cobra.Command {
	return newGroup("keys", "Create, list, rotate and revoke API keys and worker join tokens",
		newKeysCreateCommand(m),
		newKeysListCommand(m),
		newKeysRevokeCommand(m),
		newKeysRotateCommand(m),
	)
}

// parseLifetime reads a lifetime: a Go duration (90m, 720h) or a number of
// days (30d).
func parseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: use a duration such as 12h, 90m or 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: use a duration such as 12h, 90m or 30d", s)
	}
	return d, nil
}

// printCreated shows a new key's token (and secret) once, with a warning.
func printCreated(w io.Writer, c *api.CreatedKey) {
	k := c.Key
	what := "API key"
	if k.Kind == "join" {
		what = "Join token"
	}
	fmt.Fprintf(w, "%s %s (%s) created.\n\n", what, k.ID, k.Name)
	fmt.Fprintf(w, "  token\t%s\n", c.Token)
	if c.Secret != "" {
		fmt.Fprintf(w, "  secret\t%s\n", c.Secret)
	}
	fmt.Fprintf(w, "  scopes\t%s\n", strings.Join(k.Scopes, ","))
	if k.Pool != "" {
		fmt.Fprintf(w, "  pool\t%s\n", k.Pool)
	}
	if k.MaxUses > 0 {
		fmt.Fprintf(w, "  uses\t%d\n", k.MaxUses)
	}
	expires := "never"
	if k.ExpiresAt != nil {
		expires = k.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "  expires\t%s\n", expires)
	if c.OldKey != nil && c.OldKey.ExpiresAt != nil {
		fmt.Fprintf(w, "  old key\t%s stops working at %s\n", c.OldKey.ID, c.OldKey.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintln(w, "\nStore it now: it is not shown again.")
	switch {
	case k.Kind == "join":
		fmt.Fprintln(w, "Start a worker with: drover worker --server URL --token <token>")
	case c.Secret != "":
		fmt.Fprintln(w, "Signed mode: sign every request (docs/signing.md), e.g. drover --api-key <token> --api-secret <secret> …")
	}
}
