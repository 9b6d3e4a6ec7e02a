package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// secondsFlag is a flag in seconds, as the API counts them, that also takes
// a Go duration: "300" and "5m" are the same.
type secondsFlag float64

func (s *secondsFlag) String() string { return strconv.FormatFloat(float64(*s), 'f', -1, 64) }
func (s *secondsFlag) Type() string   { return "seconds" }

func (s *secondsFlag) Set(v string) error {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil {
			return fmt.Errorf("%q is neither seconds nor a duration such as 90s or 5m", v)
		}
		n = d.Seconds()
	}
	if n < 0 {
		return fmt.Errorf("%q is negative", v)
	}
	*s = secondsFlag(n)
	return nil
}

// keyValues is a repeatable key=value flag: --label team=infra --label
// cost=low. One pair per flag, so a value may hold commas.
type keyValues map[string]string

func (kv *keyValues) Type() string   { return "key=value" }
func (kv *keyValues) String() string { return labels(*kv) }

func (kv *keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	if *kv == nil {
		*kv = keyValues{}
	}
	(*kv)[k] = v
	return nil
}
