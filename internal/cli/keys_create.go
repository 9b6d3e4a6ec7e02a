package cli

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newKeysCreateCommand(m *meta) *cobra.Command {
	var (
		req           api.CreateKeyRequest
		scopes        string
		expires, ttl  string
		reads, writes int
		streams       int
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API key or a worker join token",
		Long: `Create an API key, shown once: the server keeps only its hash.

Scopes: read, write (implies read), admin (implies write), agent (the worker
protocol only) and exec:shell (needed to submit shell tasks, never implied).
--signed makes a signed-mode key (document 000): a token and a secret, and
every request must be signed with the secret (docs/signing.md).

--join makes a worker join token instead: a worker exchanges it once
(--uses times) for its own credential, in --pool, within --ttl.`,
		Example: `  drover keys create --name ci --scopes read,write --expires 30d
  drover keys create --name scaler --scopes write --signed
  drover keys create --join --pool gpu --ttl 1h`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			lifetime := expires
			if req.Join {
				lifetime = ttl
				if req.Name == "" {
					req.Name = "join"
					if req.Pool != "" {
						req.Name += " " + req.Pool
					}
				}
				if scopes != "" {
					return usageErrorf("a join token's scope is agent; leave out --scopes")
				}
			} else {
				if req.Name == "" {
					return usageErrorf("--name is required")
				}
				if scopes == "" {
					return usageErrorf("--scopes is required, e.g. --scopes read,write")
				}
				if req.Pool != "" || cmd.Flags().Changed("uses") {
					return usageErrorf("--pool and --uses are for join tokens (--join)")
				}
				req.Scopes = strings.Split(scopes, ",")
			}
			if lifetime != "" {
				d, err := parseLifetime(lifetime)
				if err != nil {
					return usageErrorf("%v", err)
				}
				req.ExpiresIn = int64(d.Seconds())
			}
			if reads > 0 || writes > 0 || streams > 0 {
				req.RateLimits = &api.KeyRateLimits{Reads: reads, Writes: writes, Streams: streams}
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			created, err := c.Keys.Create(cmd.Context(), req)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) { printCreated(w, created) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "what the key is for")
	f.StringVar(&scopes, "scopes", "", "comma-separated: read, write, admin, agent, exec:shell")
	f.BoolVar(&req.Signed, "signed", false, "signed mode: a token and a secret that signs every request")
	f.StringVar(&expires, "expires", "", "lifetime, e.g. 30d or 12h (default: never)")
	f.IntVar(&reads, "rate-reads", 0, "this key's reads per window (default: the server's)")
	f.IntVar(&writes, "rate-writes", 0, "this key's writes per window (default: the server's)")
	f.IntVar(&streams, "rate-streams", 0, "this key's concurrent streams (default: the server's)")
	f.BoolVar(&req.Join, "join", false, "a worker join token instead of an API key")
	f.StringVar(&req.Pool, "pool", "", "the pool a join token admits workers to")
	f.StringVar(&ttl, "ttl", "1h", "how long a join token stays valid")
	f.IntVar(&req.Uses, "uses", 1, "how many workers a join token may admit")
	return cmd
}
