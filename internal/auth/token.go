package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"
)

// Token prefixes: they tell a Drover key at a glance (and to secret
// scanners) and say what it is.
const (
	prefixAPI    = "drv_"  // an API key's token
	prefixJoin   = "drj_"  // a worker join token
	prefixSecret = "drvs_" // a signed-mode key's secret
)

// b32 is lowercase base32 without padding: URL-, header- and shell-safe.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

const (
	tokenRandomBytes = 25 // 200 bits, 40 characters
	tokenBodyLen     = 40
	checksumLen      = 7 // base32 of the CRC-32 of prefix+body
)

// newToken returns prefix + 40 random characters + a 7-character checksum.
func newToken(prefix string) string {
	b := make([]byte, tokenRandomBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	body := prefix + b32.EncodeToString(b)
	return body + checksum(body)
}

func checksum(s string) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE([]byte(s)))
	return b32.EncodeToString(sum[:])
}

// wellFormed reports whether a token that claims to be Drover's (by its
// prefix) has the right length and checksum. Tokens without a Drover
// prefix (an operator's own --api-key) are not judged here.
func wellFormed(token string) bool { return malformed(token) == "" }

// malformed says what is wrong with a token that claims to be Drover's, in
// words that point at the likely cause (a token cut or mistyped in the
// copy), or "" when nothing is.
func malformed(token string) string {
	var prefix, what string
	switch {
	case strings.HasPrefix(token, prefixAPI):
		prefix, what = prefixAPI, "an API key"
	case strings.HasPrefix(token, prefixJoin):
		prefix, what = prefixJoin, "a join token"
	default:
		return ""
	}
	if want := len(prefix) + tokenBodyLen + checksumLen; len(token) != want {
		return fmt.Sprintf("it starts with %q like %s but has %d characters where %s has %d: was it cut or joined to something in the copy?",
			prefix, what, len(token), what, want)
	}
	body := token[:len(token)-checksumLen]
	if checksum(body) != token[len(body):] {
		return fmt.Sprintf("it looks like %s but its last %d characters (a checksum of the rest) do not match: "+
			"a character was changed in the copy; copy the whole token again", what, checksumLen)
	}
	return ""
}

// newSecret is a signed-mode key's secret: 256 random bits.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefixSecret + b32.EncodeToString(b)
}

// newKeyID is a key's public id.
func newKeyID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "key_" + b32.EncodeToString(b)
}

// HashToken is how a token is stored and found: hex SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
