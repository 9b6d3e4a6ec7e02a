package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// config is the CLI's own settings file, config.json in the user's config
// directory. It is not the server's configuration (GET /api/v1/config).
type config struct {
	APIURL string `json:"api_url,omitempty"`
	APIKey string `json:"api_key,omitempty"`
	// APISecret is a signed-mode key's secret; with it, requests are signed.
	APISecret string `json:"api_secret,omitempty"`
}

// configKeys are the settings drover config knows, in display order.
var configKeys = []string{"api_url", "api_key", "api_secret"}

// field returns the setting called key.
func (c *config) field(key string) (*string, error) {
	switch key {
	case "api_url":
		return &c.APIURL, nil
	case "api_key":
		return &c.APIKey, nil
	case "api_secret":
		return &c.APISecret, nil
	}
	return nil, usageErrorf("unknown config key %q; the keys are %v", key, configKeys)
}

// configPath returns where the config file lives: $DROVER_CONFIG_DIR, else
// drover/ under the user's config directory (~/.config on Linux).
func (m *meta) configPath() (string, error) {
	dir := m.getenv(envConfigDir)
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("find the config directory (or set $%s): %w", envConfigDir, err)
		}
		dir = filepath.Join(base, "drover")
	}
	return filepath.Join(dir, "config.json"), nil
}

// loadConfig reads the config file; a missing file is an empty config.
func (m *meta) loadConfig() (config, string, error) {
	path, err := m.configPath()
	if err != nil {
		return config{}, "", err
	}
	var cfg config
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, path, nil
	}
	if err != nil {
		return cfg, path, fmt.Errorf("read config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, path, fmt.Errorf("config %s is not valid JSON: %w", path, err)
	}
	return cfg, path, nil
}

// saveConfig writes cfg to path, readable by the user alone since it may
// hold an API key. It writes a temporary file and renames it, so a crash
// never leaves half a config behind.
func saveConfig(path string, cfg config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json") // created 0600
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
