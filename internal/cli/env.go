package cli

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// bindEnv gives every flag of a long-running command (server, worker, dev)
// three sources, strongest first: the command line; the environment, where
// --agent-port is DROVER_AGENT_PORT; and a YAML file named by --config (or
// DROVER_CONFIG) whose keys are the flag names:
//
//	store: postgres://drover@db/drover
//	agent-port: 8080
//	queues: [FifoQ, gpu]
//	labels: {disk: ssd}
func bindEnv(cmd *cobra.Command) error {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("DROVER_CONFIG")
	}
	if path != "" {
		if err := applyConfigFile(cmd, path); err != nil {
			return err
		}
	}
	var errs []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := "DROVER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// addConfigFlag gives cmd the --config flag bindEnv reads.
func addConfigFlag(cmd *cobra.Command) {
	cmd.Flags().String("config", "", "YAML file of settings, keyed by flag name (also DROVER_CONFIG)")
}

// applyConfigFile sets the flags not given on the command line from a YAML
// file. An unknown key is an error: a typo must not pass silently.
func applyConfigFile(cmd *cobra.Command, path string) error {
	raw, err := os.ReadFile(path) // #nosec G703 -- the operator names their own config file (--config, DROVER_CONFIG)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var settings map[string]any
	if err := yaml.Unmarshal(raw, &settings); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		name := strings.ReplaceAll(key, "_", "-")
		f := cmd.Flags().Lookup(name)
		if f == nil || name == "config" {
			return fmt.Errorf("--config %s: unknown setting %q", path, key)
		}
		if f.Changed {
			continue
		}
		if err := f.Value.Set(configValue(settings[key])); err != nil {
			return fmt.Errorf("--config %s: %s: %v", path, key, err)
		}
	}
	return nil
}

// configValue renders a YAML value as a flag would take it: lists joined
// with commas, maps as k=v pairs.
func configValue(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+"="+fmt.Sprint(v[k]))
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// settle readies a long-running command: its flags completed from the
// environment and --config, and its JSON logger at logLevel. Errors are
// usage errors.
func settle(cmd *cobra.Command, logLevel string) (*slog.Logger, error) {
	if err := bindEnv(cmd); err != nil {
		return nil, usageErrorf("%v", err)
	}
	log, err := jsonLogger(logLevel)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return log, nil
}

// jsonLogger is the structured logger of the long-running commands.
func jsonLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l, ReplaceAttr: readableDuration})), nil
}

// readableDuration writes durations as people read them ("1.5s"), where
// slog's JSON handler would write nanoseconds.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
