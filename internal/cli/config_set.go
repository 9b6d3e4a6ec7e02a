package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/client"
)

func newConfigSetCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Set a setting: api_url or api_key (an empty VALUE clears it)",
		Example: `  drover config set api_url http://192.168.1.100:8081
  drover config set api_key your-secret-key`,
		Args:      exactArgs("KEY", "VALUE"),
		ValidArgs: configKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, value := args[0], args[1]
			cfg, path, err := m.loadConfig()
			if err != nil {
				return err
			}
			field, err := cfg.field(key)
			if err != nil {
				return err
			}
			if key == "api_url" && value != "" {
				// Refuse now what every later command would refuse.
				if _, err := client.New(value); err != nil {
					return usageErrorf("api_url %q: want http://host:port or https://host:port", value)
				}
			}
			*field = value
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			if value == "" {
				fmt.Fprintf(m.out, "Cleared %s in %s\n", key, path)
			} else {
				fmt.Fprintf(m.out, "Set %s in %s\n", key, path)
			}
			return nil
		},
	}
}
