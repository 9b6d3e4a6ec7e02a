package auth

import (
	"strings"
	"testing"
)

func TestMalformedExplains(t *testing.T) {
	t.Parallel()
	good := newToken(prefixAPI)
	typo := []byte(good)
	typo[10] ^= 1 // one character changed in the copy
	for _, tc := range []struct {
		token, want string
	}{
		{good, ""},
		{"my-own-admin-key", ""},
		{good[:len(good)-3], "was it cut"},
		{string(typo), "checksum of the rest"},
	} {
		if got := malformed(tc.token); tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("malformed(%q) = %q, want it to say %q", tc.token, got, tc.want)
		}
	}
}
