package cli

import (
	"fmt"
	"strconv"
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
