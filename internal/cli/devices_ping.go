package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newDevicesPingCommand(m *meta) *cobra.Command {
	var timeout float64
	var count int
	cmd := &cobra.Command{
		Use:               "ping ID",
		Short:             "Round trips to a device through its worker's control channel",
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeDeviceIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			res, err := c.Devices.Ping(cmd.Context(), args[0], timeout, count)
			if err != nil {
				return err
			}
			if err := m.show(func(w io.Writer) {
				for _, p := range res.Results {
					if p.TimeMS == nil {
						fmt.Fprintf(w, "seq=%d\tlost\n", p.Seq)
						continue
					}
					fmt.Fprintf(w, "seq=%d\ttime=%.2f ms\n", p.Seq, *p.TimeMS)
				}
				avg := "-"
				if res.AverageLatencyMS != nil {
					avg = fmt.Sprintf("%.2f ms", *res.AverageLatencyMS)
				}
				fmt.Fprintf(w, "%s (%s): reachable %v, %.0f%% lost, average %s\n", res.DeviceID, res.Status, res.Reachable, res.PacketLoss, avg)
			}); err != nil {
				return err
			}
			if !res.Reachable {
				return fmt.Errorf("device %s is not reachable", res.DeviceID)
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&timeout, "timeout", 0, "seconds each probe waits (default: the server's)")
	cmd.Flags().IntVar(&count, "count", 0, "probes to send (default: the server's)")
	return cmd
}
