package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func newTLSCommand(m *meta) *cobra.Command {
	return newGroup("tls", "Make a certificate authority and certificates for a cluster",
		newGroup("ca", "The cluster's certificate authority", newTLSCACreateCommand(m)),
		newGroup("cert", "Certificates signed by the cluster's CA", newTLSCertCreateCommand(m)),
	)
}

func newTLSCACreateCommand(m *meta) *cobra.Command {
	var name, prefix string
	var days int
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a CA: ca.pem (give it to workers and clients) and ca-key.pem (keep it secret)",
		Example: `  drover tls ca create
  drover tls cert create --server --additional-ip 10.0.0.5 --additional-dns drover.internal
  drover tls cert create --worker`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cert, key, err := createCA(name, days, m.now())
			if err != nil {
				return err
			}
			certFile, keyFile := prefix+".pem", prefix+"-key.pem"
			if err := writeNew(map[string][]byte{certFile: cert, keyFile: key},
				map[string]os.FileMode{certFile: 0o644, keyFile: 0o600}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(m.out, "Created the CA %s and its key %s (valid until %s)\n", certFile, keyFile,
				m.now().AddDate(0, 0, days).Format(time.DateOnly))
			return err
		},
	}
	cmd.Flags().StringVar(&name, "common-name", "Drover cluster CA", "the CA's name")
	cmd.Flags().StringVar(&prefix, "out", "ca", "file name prefix: PREFIX.pem and PREFIX-key.pem")
	cmd.Flags().IntVar(&days, "days", 5*365, "validity in days")
	return cmd
}
