package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SigningVersion is the version header sent with signed requests.
const SigningVersion = "1.0.0"

// WithSigningKey authenticates every request with a signed-mode key
// (document 000; docs/signing.md): the token travels in the token header,
// and each request carries a timestamp in milliseconds, the version and
// sign_str, the HMAC-SHA256 of the request's canonical string under
// secret. The secret itself is never sent. It replaces WithAPIKey.
func WithSigningKey(token, secret string) Option {
	return func(c *Client) {
		c.apiKey = ""
		c.signer = &signer{token: token, secret: secret, now: time.Now}
	}
}

// signer signs requests for a signed-mode key.
type signer struct {
	token, secret string
	now           func() time.Time
}

// sign adds the signed-mode headers to req, whose body is body.
func (s *signer) sign(req *http.Request, body []byte) {
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	canonical := canonicalString(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, ts, SigningVersion, body)
	m := hmac.New(sha256.New, []byte(s.secret))
	m.Write([]byte(canonical))
	req.Header.Set("token", s.token)
	req.Header.Set("timestamp", ts)
	req.Header.Set("version", SigningVersion)
	req.Header.Set("sign_str", hex.EncodeToString(m.Sum(nil)))
}

// canonicalString is the string a signature covers (docs/signing.md):
// method, escaped path, canonical query, timestamp, version and the hex
// SHA-256 of the body, joined by newlines.
func canonicalString(method, path, rawQuery, timestamp, version string, body []byte) string {
	sum := sha256.Sum256(body)
	return strings.Join([]string{strings.ToUpper(method), path, canonicalQuery(rawQuery), timestamp, version,
		hex.EncodeToString(sum[:])}, "\n")
}

// canonicalQuery sorts the query's pairs by name then value and encodes
// every byte but A–Z a–z 0–9 - _ . ~ as %XX.
func canonicalQuery(rawQuery string) string {
	values, _ := url.ParseQuery(rawQuery) // the SDK builds its queries with url.Values: they parse
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
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = escapeRFC3986(p.k) + "=" + escapeRFC3986(p.v)
	}
	return strings.Join(parts, "&")
}

func escapeRFC3986(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
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
	return b.String()
}
