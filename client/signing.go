package client

import (
	"net/http"
	"strconv"
	"time"

	"github.com/drover-run/drover/api"
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
	// The SDK builds its queries with url.Values, so they always parse.
	canonical, _ := api.Canonical(req.Method, req.URL.EscapedPath(), req.URL.RawQuery, ts, SigningVersion, body)
	req.Header.Set("token", s.token)
	req.Header.Set("timestamp", ts)
	req.Header.Set("version", SigningVersion)
	req.Header.Set("sign_str", api.Sign(s.secret, canonical))
}
