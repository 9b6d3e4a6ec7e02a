package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The canonical string and the signature are api.Canonical and api.Sign,
// shared with the SDK.

// validSignature compares a presented sign_str with the expected one in
// constant time (hmac.Equal, never ==).
func validSignature(secret, canonical, signStr string) bool {
	got, err := hex.DecodeString(strings.ToLower(signStr))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(canonical))
	return hmac.Equal(got, m.Sum(nil))
}
