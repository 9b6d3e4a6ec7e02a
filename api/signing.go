package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
)

// Signed mode (document 000; docs/signing.md). The algorithm lives here,
// beside the wire types, so that the server that checks signatures and
// every client that makes them share one implementation.

// Canonical is the string a signed request's sign_str authenticates
// (docs/signing.md): six lines joined by "\n", with no newline at the end:
//
//	METHOD               upper case: POST
//	path                 as sent, still escaped: /api/deployment/task/change_points
//	canonical query      see CanonicalQuery; empty when there is none
//	timestamp            the timestamp header as sent: 1747379023000
//	version              the version header as sent: 1.0.0
//	body hash            lowercase hex SHA-256 of the body (of nothing when empty)
//
// sign_str is then the lowercase hex HMAC-SHA256 of this string under the
// key's secret. rawQuery is the query as sent, without "?"; a query that
// does not parse is an error.
func Canonical(method, path, rawQuery, timestamp, version string, body []byte) (string, error) {
	q, err := CanonicalQuery(rawQuery)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	return strings.Join([]string{
		strings.ToUpper(method), path, q, timestamp, version, hex.EncodeToString(sum[:]),
	}, "\n"), nil
}

// CanonicalQuery decodes rawQuery ("+" is a space), sorts its pairs by
// name, then by value (byte order), and re-encodes each as name=value with
// every byte but A–Z a–z 0–9 - _ . ~ percent-encoded in upper case (RFC
// 3986; Python's quote(s, safe='-_.~')), joined by "&". A name without "="
// has the empty value.
func CanonicalQuery(rawQuery string) (string, error) {
	if rawQuery == "" {
		return "", nil
	}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", err
	}
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range values {
		for _, v := range vs {
			pairs = append(pairs, pair{k, v})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		escape(&b, p.k)
		b.WriteByte('=')
		escape(&b, p.v)
	}
	return b.String(), nil
}

func escape(b *strings.Builder, s string) {
	const hexdigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
}

// Sign is the sign_str of canonical under secret: lowercase hex
// HMAC-SHA256.
func Sign(secret, canonical string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(canonical))
	return hex.EncodeToString(m.Sum(nil))
}
