package domain

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewTaskID returns "task-" and 26 characters: a millisecond timestamp then 80
// random bits in Crockford base32, so ids sort by creation time (as ULIDs and
// UUIDv7 do) and never collide in practice.
func NewTaskID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:]) // never fails (crypto/rand panics rather than return an error)
	return "task-" + encode128(b)
}

// NewSecret returns n random bytes, base32 encoded: credentials, tokens.
func NewSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	out := make([]byte, 0, (n*8+4)/5)
	var acc, bits uint
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, crockford[(acc>>bits)&31])
		}
	}
	if bits > 0 {
		out = append(out, crockford[(acc<<(5-bits))&31])
	}
	return string(out)
}

// encode128 writes 128 bits as 26 base32 characters, most significant first.
func encode128(b [16]byte) string {
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
