//go:build !linux

package worker

import (
	"github.com/drover-run/drover/api"
	"github.com/shirou/gopsutil/v4/host"
)

func kernelVersion() string {
	v, _ := host.KernelVersion()
	return v
}

// readBattery reports nil: only Linux's power-supply class is read.
func readBattery() *api.Battery { return nil }
