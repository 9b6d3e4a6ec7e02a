//go:build race

package scale_test

func init() { raceEnabled = true }
