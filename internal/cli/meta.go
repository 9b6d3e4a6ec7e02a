package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-run/drover/api"
)

// meta is what every client command shares, as Nomad's command.Meta does:
// where it writes, the environment, the clock and the global flags. Tests
// build their own, with a fake environment and a fixed clock, so they can
// run in parallel.
type meta struct {
	out, errOut io.Writer
	in          io.Reader // what --payload @- reads; default os.Stdin
	getenv      func(string) string
	now         func() time.Time
	transport   http.RoundTripper // nil: http.DefaultTransport
	// pollInterval is how often waiting commands ask again; 0: the SDK's
	// default. Tests make it tiny.
	pollInterval time.Duration

	globals *pflag.FlagSet // the root's persistent flags, to tell given from default
	apiURL  string
	apiKey  string
	// apiSecret, with apiKey, signs every request (a signed-mode key).
	apiSecret string
	output    outputFormat

	last *answerRecorder // the latest API answer, for -o json; set by client()
}

func newMeta(out, errOut io.Writer, getenv func(string) string) *meta {
	return &meta{out: out, errOut: errOut, getenv: getenv, now: time.Now, output: formatTable}
}

// Environment variables the CLI reads.
const (
	envAPIURL    = "DROVER_API_URL"
	envAPIKey    = "DROVER_API_KEY"    // #nosec G101 -- the name of a variable, not a credential
	envAPISecret = "DROVER_API_SECRET" // #nosec G101 -- the name of a variable, not a credential
	envConfigDir = "DROVER_CONFIG_DIR"
)

// defaultAPIURL is where drover dev and drover server listen by default.
var defaultAPIURL = fmt.Sprintf("http://127.0.0.1:%d", api.DefaultPort)

func (m *meta) addGlobalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&m.apiURL, "api-url", "", "server address (default: $"+envAPIURL+", then config api_url, then "+defaultAPIURL+")")
	f.StringVar(&m.apiKey, "api-key", "", "API key, sent as X-API-Key (default: $"+envAPIKey+", then config api_key)")
	f.StringVar(&m.apiSecret, "api-secret", "", "secret of a signed-mode key: signs every request (default: $"+envAPISecret+", then config api_secret)")
	f.VarP(&m.output, "output", "o", "output format: table (for people) or json (the API's data, for scripts)")
	root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{string(formatTable), string(formatJSON)}, cobra.ShellCompDirectiveNoFileComp
	})
	m.globals = f
}

// run executes the command line args and returns the exit code.
func (m *meta) run(ctx context.Context, args []string) int {
	root := newRoot(m)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return m.report(cmd, err)
}
