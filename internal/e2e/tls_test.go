package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// "More machines" with real certificates in three commands: drover tls ca
// create, drover tls cert create --server, a server with them and a worker
// trusting the CA; a task runs, and a client without the CA is refused.
func TestTLSHelperEndToEnd(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) { t.Helper(); drover(t, dir, args...) }
	run("tls", "ca", "create")
	run("tls", "cert", "create", "--server", "--additional-dns", "drover.internal", "--additional-ip", "10.0.0.5")
	run("tls", "cert", "create", "--worker")
	if cmd := exec.Command(droverBin, "tls", "ca", "create"); true {
		cmd.Dir = dir
		if err := cmd.Run(); err == nil {
			t.Error("a second drover tls ca create overwrote the CA")
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem: %v, mode %v; want 0600", err, fi.Mode())
	}

	apiPort, agentPort := freePort(t), freePort(t)
	start(t, "server", "server", "--store", "sqlite://"+filepath.Join(dir, "drover.db"),
		"--port", strconv.Itoa(apiPort), "--agent-port", strconv.Itoa(agentPort), "--keeper-port", "0", "--netpulse-port", "0",
		"--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", filepath.Join(dir, "server-key.pem"), "--log-level", "warn")
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c, err := client.New(fmt.Sprintf("https://127.0.0.1:%d", apiPort), client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eventually(t, 20*time.Second, "the TLS server to answer", func() bool {
		_, err := c.Health(ctx)
		return err == nil
	})
	start(t, "worker", "worker", "--server", fmt.Sprintf("https://127.0.0.1:%d", agentPort), "--ca", filepath.Join(dir, "ca.pem"),
		"--name", "tls-worker", "--log-level", "warn")
	eventually(t, 20*time.Second, "the worker to register over TLS", func() bool {
		d, err := c.Devices.Get(ctx, "tls-worker")
		return err == nil && d.Status == "online"
	})
	sub, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: []byte(`{"message": "over TLS"}`)})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	task, err := c.Tasks.Wait(wctx, sub.TaskID, 50*time.Millisecond)
	if err != nil || task.Status != "completed" {
		t.Fatalf("task over TLS: %v %+v", err, task)
	}

	// A client that does not trust the CA is refused.
	plain, _ := client.New(fmt.Sprintf("https://127.0.0.1:%d", apiPort))
	if _, err := plain.Health(ctx); err == nil {
		t.Error("a client without the CA reached the TLS server")
	}
}

// drover runs a drover command in dir and fails the test if it fails.
func drover(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(droverBin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("drover %v: %v\n%s", args, err, out)
	}
}

// TestTLSRefusals is S8's certificate part, with a CA made by drover tls
// and real server and worker processes: a worker trusting another CA, a
// worker dialling an address the server certificate does not name, a
// server presenting an expired certificate, a server presenting a worker
// (client) certificate, and a TLS 1.1 client are all refused, the worker
// saying why in its log.
func TestTLSRefusals(t *testing.T) {
	t.Parallel()
	dir, other := t.TempDir(), t.TempDir()
	drover(t, dir, "tls", "ca", "create")
	drover(t, dir, "tls", "cert", "create", "--server")
	drover(t, dir, "tls", "cert", "create", "--worker")
	drover(t, other, "tls", "ca", "create")
	expiredCert, expiredKey := writeExpiredServerCert(t, dir)
	ca, wrongCA := filepath.Join(dir, "ca.pem"), filepath.Join(other, "ca.pem")

	// serve starts a TLS server on all addresses and returns its agent port.
	serve := func(name, cert, key string) int {
		apiPort, agentPort := freePort(t), freePort(t)
		start(t, name, "server", "--store", "sqlite://"+filepath.Join(t.TempDir(), "drover.db"), "--host", "0.0.0.0",
			"--port", strconv.Itoa(apiPort), "--agent-port", strconv.Itoa(agentPort), "--keeper-port", "0", "--netpulse-port", "0",
			"--tls-cert", cert, "--tls-key", key, "--log-level", "warn")
		eventually(t, 20*time.Second, name+" to listen", func() bool {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", agentPort))
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return agentPort
	}
	good := serve("server", filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	expired := serve("expired", expiredCert, expiredKey)
	clientCert := serve("client-cert", filepath.Join(dir, "worker.pem"), filepath.Join(dir, "worker-key.pem"))

	for _, tc := range []struct {
		name, server, ca, want string
	}{
		{"wrong CA", fmt.Sprintf("https://127.0.0.1:%d", good), wrongCA, "certificate signed by unknown authority"},
		{"address not in the certificate", fmt.Sprintf("https://127.0.0.2:%d", good), ca, "not 127.0.0.2"},
		{"expired certificate", fmt.Sprintf("https://127.0.0.1:%d", expired), ca, "certificate has expired"},
		// A worker certificate names no address and is for clients only:
		// Go reports the missing address first.
		{"worker certificate as server's", fmt.Sprintf("https://127.0.0.1:%d", clientCert), ca, "doesn't contain any IP SANs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := start(t, "worker", "worker", "--server", tc.server, "--ca", tc.ca, "--name", "w", "--log-level", "warn")
			eventually(t, 20*time.Second, "the worker to report "+tc.want, func() bool {
				b, _ := os.ReadFile(w.log)
				return strings.Contains(string(b), tc.want)
			})
		})
	}

	t.Run("TLS 1.1", func(t *testing.T) {
		t.Parallel()
		pool := x509.NewCertPool()
		caPEM, _ := os.ReadFile(ca)
		pool.AppendCertsFromPEM(caPEM)
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", good), &tls.Config{RootCAs: pool, MinVersion: v, MaxVersion: v})
			if err == nil {
				c.Close()
				t.Fatalf("a TLS %s client was served", tls.VersionName(v))
			}
			if !strings.Contains(err.Error(), "protocol version") {
				t.Errorf("TLS %s client: %v, want a protocol version alert", tls.VersionName(v), err)
			}
		}
		c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", good), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS 1.2+ client: %v", err)
		}
		c.Close()
	})
}

// writeExpiredServerCert writes a server certificate for 127.0.0.1, signed
// by dir's CA, that expired an hour ago.
func writeExpiredServerCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	ca, err := tls.LoadX509KeyPair(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "expired drover server"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "expired.pem"), filepath.Join(dir, "expired-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}
