package domain

import "time"

// Progress is what a running attempt last said of how far it got: a
// fraction of the work done (0 to 1) and a short message. It belongs to the
// attempt that reported it (Epoch); a new attempt starts with none.
type Progress struct {
	TaskID   string
	Epoch    int64 // the lease it was reported under
	Fraction float64
	Message  string
	Time     time.Time // when the worker reported it
}
