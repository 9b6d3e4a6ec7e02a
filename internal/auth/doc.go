// Package auth is Drover's one authentication and authorization mechanism,
// which every listener plugs into: API keys and their scopes, the signed
// mode of document 000, worker join tokens, and the Guard middleware that
// authenticates, rate-limits and authorizes each request and hands any
// refusal to the listener's own dialect to render.
//
// # Keys
//
// A key is a random token ("drv_…", a join token "drj_…") with a CRC-32
// checksum at its end, so a mistyped or made-up token is refused before
// any database lookup. It is shown once, at creation; the store keeps only
// its SHA-256 (a token has 200 random bits, so a fast hash is as good as a
// slow one and costs nothing per request). Keys carry scopes:
//
//	read        GET the native API
//	write       change things through the native API (implies read)
//	admin       manage keys, the configuration, devices (implies write, read)
//	agent       register workers on the worker protocol, and nothing else
//	exec:shell  submit (and retry) shell tasks; never implied, always with write
//
// # Signed mode (document 000; docs/signing.md)
//
// A signed-mode key has a token and a separate secret. The secret is kept
// sealed (AES-256-GCM) under the server key, which comes from
// --secret-key-file or DROVER_SECRET_KEY and must be the same on every
// server sharing a store. A request carries headers token, timestamp (Unix
// milliseconds), version and sign_str, the lowercase hex
// HMAC-SHA256(secret, api.Canonical(request)); see api.Canonical for the string and
// docs/signing.md for a worked example. The server refuses, each with its
// own code: a timestamp in seconds (TIMESTAMP_IN_SECONDS), one more than 5
// minutes from its clock (TIMESTAMP_SKEW), a wrong signature
// (BAD_SIGNATURE), a signature seen before within its window (REPLAYED:
// remembered in the store, so across restarts and servers), and a
// signed-mode key presented without a signature (MODE_MISMATCH: no
// downgrade to simple mode).
//
// # Presenting a key
//
// Every form the documents use is accepted on every listener: X-API-Key
// (any case, so X-API-KEY too), Authorization: Bearer, a token header, a
// token query parameter. Two different keys in one request are refused
// (400), an empty one is 401.
//
// # Refusals
//
// Authentication and authorization fail with a *Failure, rate limits with
// a *ratelimit.ExceededError. Neither is written by this package: each
// listener's Refuse function renders it in its dialect (the native
// envelope, Keeper's "Access Denied.", document 000's "4001"), and
// DomainError converts it for the envelope dialects.
//
// # Revocation
//
// A key's record is cached for at most CacheTTL (default one second) on
// each server, so a revocation takes effect everywhere within a second.
package auth
