package cli

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func newTLSCertCreateCommand(m *meta) *cobra.Command {
	var server, worker bool
	var caFile, caKeyFile, name, prefix string
	var dns, ips []string
	var days int
	cmd := &cobra.Command{
		Use:   "create --server|--worker",
		Short: "Create a server or worker certificate signed by the CA",
		Long: `Create a certificate signed by the CA (ca.pem, ca-key.pem in this
directory unless --ca/--ca-key say otherwise).

--server writes server.pem and server-key.pem for drover server --tls-cert
--tls-key. They name localhost, 127.0.0.1 and ::1; add every name and
address clients and workers dial with --additional-dns and --additional-ip.
--worker writes worker.pem and worker-key.pem, a client certificate.`,
		Example: `  drover tls cert create --server --additional-ip 10.0.0.5 --additional-dns drover.internal
  drover tls cert create --worker --out phone-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == worker {
				return usageErrorf("give one of --server or --worker")
			}
			spec := leafSpec{server: server, name: name, dns: dns, days: days}
			if server {
				spec.dns = append([]string{"localhost"}, dns...)
				spec.ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
				if name == "" {
					spec.name = "drover server"
				}
				if prefix == "" {
					prefix = "server"
				}
			} else {
				if name == "" {
					spec.name = "drover worker"
				}
				if prefix == "" {
					prefix = "worker"
				}
			}
			for _, s := range ips {
				ip := net.ParseIP(s)
				if ip == nil {
					return usageErrorf("--additional-ip %q is not an IP address", s)
				}
				spec.ips = append(spec.ips, ip)
			}
			caCert, err := os.ReadFile(caFile)
			if err != nil {
				return fmt.Errorf("%w (make the CA first: drover tls ca create)", err)
			}
			caKey, err := os.ReadFile(caKeyFile)
			if err != nil {
				return err
			}
			cert, key, err := createLeaf(caCert, caKey, spec, m.now())
			if err != nil {
				return err
			}
			certFile, keyFile := prefix+".pem", prefix+"-key.pem"
			if err := writeNew(map[string][]byte{certFile: cert, keyFile: key},
				map[string]os.FileMode{certFile: 0o644, keyFile: 0o600}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(m.out, "Created %s and its key %s, signed by %s (valid until %s)\n", certFile, keyFile, caFile,
				m.now().AddDate(0, 0, days).Format(time.DateOnly))
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&server, "server", false, "a server certificate (server.pem)")
	f.BoolVar(&worker, "worker", false, "a worker (client) certificate (worker.pem)")
	f.StringVar(&caFile, "ca", "ca.pem", "the CA certificate")
	f.StringVar(&caKeyFile, "ca-key", "ca-key.pem", "the CA's key")
	f.StringSliceVar(&dns, "additional-dns", nil, "more DNS names the server is dialled by (repeatable)")
	f.StringSliceVar(&ips, "additional-ip", nil, "more IP addresses the server is dialled by (repeatable)")
	f.StringVar(&name, "common-name", "", "the certificate's name")
	f.StringVar(&prefix, "out", "", "file name prefix (default server or worker)")
	f.IntVar(&days, "days", 365, "validity in days")
	return cmd
}
