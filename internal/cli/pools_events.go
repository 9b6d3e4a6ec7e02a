package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newPoolsEventsCommand(m *meta) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "events ID",
		Short: "Show a pool's scaling history, newest first",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Pools.Events(cmd.Context(), id, limit)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(l.Events) == 0 {
					fmt.Fprintln(w, "No events.")
					return
				}
				fmt.Fprintln(w, "WHEN\tFROM\tTO\tBY\tREASON")
				for _, e := range l.Events {
					reason := e.Reason
					if reason == "" {
						reason = none
					}
					fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", e.At.Format("2006-01-02 15:04:05"), e.From, e.To, e.Actor, reason)
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many events")
	return cmd
}
