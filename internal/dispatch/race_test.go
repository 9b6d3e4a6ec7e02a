//go:build race

package dispatch_test

func init() { raceEnabled = true }
