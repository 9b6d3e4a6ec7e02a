package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/internal/version"
)

// newVersionCommand is `drover version`: this binary's build, the same line
// the server reports in /health and drover_build_info. It asks no server.
func newVersionCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print this binary's version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if m.output == formatJSON {
				enc := json.NewEncoder(m.out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]string{
					"version": version.Version, "commit": version.Commit, "build_date": version.Date, "go_version": version.GoVersion,
				})
			}
			_, err := fmt.Fprintln(m.out, "drover "+version.String())
			return err
		},
	}
}
