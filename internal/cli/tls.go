package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// workerHTTPClient is the worker's client of server: it refuses plain HTTP
// to anything but loopback unless insecure (the join token and the worker
// credential would travel in clear), and verifies an https server against
// caFile when given (else the system's roots). nil means the worker's
// default client.
func workerHTTPClient(server, caFile string, insecure bool) (*http.Client, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://host:port", server)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if caFile != "" {
			return nil, fmt.Errorf("--ca is for an https --server")
		}
		if !insecure && !loopback(u.Hostname()) {
			return nil, fmt.Errorf("--server %s is plain HTTP to another machine: use https (with --ca), or --insecure to accept that", server)
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("--server %q: want http(s)://host:port", server)
	}
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca %s holds no PEM certificate", caFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}, nil // no client timeout: it would cut the lease long-poll
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
