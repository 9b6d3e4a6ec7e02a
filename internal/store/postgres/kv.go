package postgres

import (
	"context"
	"encoding/json"
)

// KVGet returns the document at key.
func (s *Store) KVGet(ctx context.Context, key string) (json.RawMessage, error) {
	var value []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM kv WHERE key = $1`, key).Scan(&value)
	if err != nil {
		return nil, translate(err)
	}
	return value, nil
}

// KVPut stores value at key, replacing what was there. The column is json,
// which keeps the document byte for byte; a nil value is stored as null.
func (s *Store) KVPut(ctx context.Context, key string, value json.RawMessage) error {
	if len(value) == 0 {
		value = json.RawMessage("null")
	}
	_, err := s.exec(ctx, `
INSERT INTO kv (key, value) VALUES ($1, $2::json)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`, key, string(value))
	return err
}
