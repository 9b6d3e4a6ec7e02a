package worker

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/drover-run/drover/api"
)

// kernelVersion reads the kernel release the way uname -r prints it.
func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readBattery reports the first battery the kernel's power-supply class
// lists (laptops, phones under Android), or nil when there is none.
func readBattery() *api.Battery {
	dirs, _ := filepath.Glob("/sys/class/power_supply/*")
	for _, d := range dirs {
		if readTrim(filepath.Join(d, "type")) != "Battery" {
			continue
		}
		level, err := strconv.ParseFloat(readTrim(filepath.Join(d, "capacity")), 64)
		if err != nil {
			continue
		}
		status := readTrim(filepath.Join(d, "status"))
		return &api.Battery{Level: level, Charging: status == "Charging" || status == "Full"}
	}
	return nil
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
