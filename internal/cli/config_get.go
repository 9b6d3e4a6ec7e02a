package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func newConfigGetCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "get [KEY]",
		Short: "Print a setting, or all of them",
		Long: `Print the value of KEY, or, without KEY, every setting with the API key
masked. With -o json, the settings as stored.`,
		Args:      maxArgs(1),
		ValidArgs: configKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := m.loadConfig()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				field, err := cfg.field(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(m.out, *field) // as is, for $(drover config get api_url)
				return nil
			}
			if m.output == formatJSON {
				b, err := json.Marshal(cfg)
				if err != nil {
					return err
				}
				return m.printJSON(b)
			}
			return m.show(func(w io.Writer) {
				for _, key := range configKeys {
					value, _ := cfg.field(key)
					if key == "api_secret" && *value == "" {
						continue // shown only for signed-mode users
					}
					shown := orNone(*value)
					if (key == "api_key" || key == "api_secret") && *value != "" {
						shown = mask(*value)
					}
					fmt.Fprintf(w, "%s\t%s\n", key, shown)
				}
			})
		},
	}
}

// mask hides a secret but its last four characters, enough to tell keys
// apart, and those only when the key is long enough to spare them.
func mask(secret string) string {
	const shown = 4
	if len(secret) < 3*shown {
		return strings.Repeat("*", 8)
	}
	return strings.Repeat("*", 8) + secret[len(secret)-shown:]
}
