package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
)

// TestSettingsPrecedence: the command line beats the environment, which
// beats the --config file, which beats the defaults.
func TestSettingsPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "drover.yaml")
	if err := os.WriteFile(file, []byte("port: 7001\nagent-port: 7002\nhost: 0.0.0.0\nqueues: [FifoQ, gpu]\nlabels: {disk: ssd, zone: b}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var port, agentPort int
	var host string
	var queues, labels []string
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd) }}
	addConfigFlag(cmd)
	cmd.Flags().IntVar(&port, "port", 8081, "")
	cmd.Flags().IntVar(&agentPort, "agent-port", 8080, "")
	cmd.Flags().StringVar(&host, "host", "127.0.0.1", "")
	cmd.Flags().StringSliceVar(&queues, "queues", nil, "")
	cmd.Flags().StringSliceVar(&labels, "labels", nil, "")
	t.Setenv("DROVER_AGENT_PORT", "7102")
	cmd.SetArgs([]string{"--config", file, "--host", "10.0.0.1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if port != 7001 || agentPort != 7102 || host != "10.0.0.1" {
		t.Errorf("port %d agent-port %d host %s; want 7001 (file), 7102 (env), 10.0.0.1 (flag)", port, agentPort, host)
	}
	if len(queues) != 2 || queues[1] != "gpu" || len(labels) != 2 || labels[0] != "disk=ssd" {
		t.Errorf("queues %v labels %v; want [FifoQ gpu] [disk=ssd zone=b]", queues, labels)
	}
}

func TestConfigFileRefusesUnknownKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "drover.yaml")
	os.WriteFile(file, []byte("prot: 7001\n"), 0o600)
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error { return bindEnv(cmd) }}
	addConfigFlag(cmd)
	cmd.Flags().Int("port", 8081, "")
	cmd.SetArgs([]string{"--config", file})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil {
		t.Fatal("a config file with the unknown key prot was accepted")
	}
}
