package agentserver

import (
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// credentialCache maps credential hashes to workers, so that a worker's
// calls do not each cost a store read: with 10,000 workers, a lookup per
// heartbeat and per long-poll was a large part of the server's work.
//
// An entry lives for ttl since it was looked up or since the worker's last
// heartbeat, which checks the credential in the store (a heartbeat on a
// credential that is no longer the worker's, or of a removed worker,
// changes nothing and is refused). So a revoked credential stops working:
//   - on this server, at once: removing a worker (Control.Forget) and
//     registering one (which replaces an earlier session's credential) drop
//     its entries;
//   - on the other servers sharing the store, as soon as the relay delivers
//     the revocation (PostgreSQL NOTIFY); if that message is lost, at the
//     worker's next heartbeat there, and at the latest after ttl.
type credentialCache struct {
	ttl    time.Duration
	mu     sync.Mutex
	byHash map[string]cachedWorker
	byID   map[string][]string // worker id -> the hashes cached for it
}

type cachedWorker struct {
	w  *domain.Worker
	at time.Time
}

// maxCachedCredentials bounds the cache; only credentials the store
// confirmed are cached, so only a huge fleet reaches it.
const maxCachedCredentials = 100000

func newCredentialCache(ttl time.Duration) *credentialCache {
	return &credentialCache{ttl: ttl, byHash: map[string]cachedWorker{}, byID: map[string][]string{}}
}

func (c *credentialCache) get(hash string) (*domain.Worker, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byHash[hash]
	if !ok || time.Since(e.at) > c.ttl {
		return nil, false
	}
	return e.w, true
}

func (c *credentialCache) put(hash string, w *domain.Worker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byHash) >= maxCachedCredentials {
		clear(c.byHash)
		clear(c.byID)
	}
	if _, ok := c.byHash[hash]; !ok {
		c.byID[w.ID] = append(c.byID[w.ID], hash)
	}
	c.byHash[hash] = cachedWorker{w: w, at: time.Now()}
}

// refresh replaces a worker's cached copy after a heartbeat, which the store
// checked, changed it.
func (c *credentialCache) refresh(w *domain.Worker) {
	if w.CredentialHash != "" {
		c.put(w.CredentialHash, w)
	}
}

// forget drops every cached credential of worker id.
func (c *credentialCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.byID[id] {
		delete(c.byHash, h)
	}
	delete(c.byID, id)
}
