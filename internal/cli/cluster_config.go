package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// newClusterConfigCommand is `drover cluster config get|set`: the cluster's
// configuration (GET/PUT /api/v1/config), not the CLI's own (drover config).
func newClusterConfigCommand(m *meta) *cobra.Command {
	get := &cobra.Command{
		Use:   "get [SECTION[.KEY]]",
		Short: "Print the cluster's configuration, or one section or setting of it",
		Example: `  drover cluster config get
  drover cluster config get cluster.heartbeat_interval`,
		Args: maxArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"server", "cluster", "logging", "metrics"}, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			cfg, err := c.Cluster.Config(cmd.Context())
			if err != nil {
				return err
			}
			var v any
			b, _ := json.Marshal(cfg)
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			if len(args) == 1 {
				for part := range strings.SplitSeq(args[0], ".") {
					obj, ok := v.(map[string]any)
					if !ok || obj[part] == nil {
						return usageErrorf("no setting %q in the cluster's configuration", args[0])
					}
					v = obj[part]
				}
			}
			if s, ok := v.(string); ok {
				_, err = fmt.Fprintln(m.out, s)
				return err
			}
			out, _ := json.MarshalIndent(v, "", "  ")
			_, err = fmt.Fprintf(m.out, "%s\n", out)
			return err
		},
	}
	set := &cobra.Command{
		Use:   "set SECTION.KEY=VALUE...",
		Short: "Change settings: validated, persisted and applied at once",
		Example: `  drover cluster config set cluster.heartbeat_interval=30 cluster.offline_threshold=180
  drover cluster config set logging.level=debug`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			patch := map[string]any{}
			for _, a := range args {
				key, raw, ok := strings.Cut(a, "=")
				section, name, dotted := strings.Cut(key, ".")
				if !ok || !dotted || section == "" || name == "" {
					return usageErrorf("%q: want SECTION.KEY=VALUE, e.g. cluster.heartbeat_interval=30", a)
				}
				// A number, true/false or JSON goes as such; anything else is a string.
				var val any
				if err := json.Unmarshal([]byte(raw), &val); err != nil {
					val = raw
				}
				sec, _ := patch[section].(map[string]any)
				if sec == nil {
					sec = map[string]any{}
					patch[section] = sec
				}
				sec[name] = val
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			res, err := c.Cluster.UpdateConfig(cmd.Context(), patch)
			if err != nil {
				return err
			}
			if m.output == formatJSON {
				return m.printData()
			}
			msg := "Updated " + strings.Join(res.UpdatedFields, ", ")
			if res.RestartRequired {
				msg += " (a restart is needed for some of them)"
			}
			_, err = fmt.Fprintln(m.out, msg)
			return err
		},
	}
	return newGroup("config", "Read and change the cluster's configuration", get, set)
}
