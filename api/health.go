package api

// Health is the answer of GET /health (outside /api/v1, unauthenticated):
// whether the API server is up, as in document 001's reference server.
type Health struct {
	Status        string            `json:"status"` // "healthy"
	UptimeSeconds float64           `json:"uptime_seconds,omitempty"`
	Version       string            `json:"version,omitempty"`
	SchemaVersion int               `json:"schema_version,omitempty"` // the store's highest migration
	Components    map[string]string `json:"components,omitempty"`     // e.g. "store": "healthy"
}
