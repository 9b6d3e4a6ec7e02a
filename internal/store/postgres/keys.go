package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

const keyColumns = `id, name, kind, scopes, hash, sealed_secret, pool, max_uses, uses, limits,
	rotated_to, created_at, expires_at, revoked_at`

func scanKey(row pgx.Row) (*store.Key, error) {
	var (
		k                store.Key
		kind             string
		scopes, limits   []byte
		expires, revoked *time.Time
	)
	err := row.Scan(&k.ID, &k.Name, &kind, &scopes, &k.Hash, &k.SealedSecret, &k.Pool, &k.MaxUses, &k.Uses,
		&limits, &k.RotatedTo, &k.CreatedAt, &expires, &revoked)
	if err != nil {
		return nil, err
	}
	k.Kind = store.KeyKind(kind)
	if err := json.Unmarshal(scopes, &k.Scopes); err != nil {
		return nil, fmt.Errorf("postgres: key %s: scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal(limits, &k.Limits); err != nil {
		return nil, fmt.Errorf("postgres: key %s: limits: %w", k.ID, err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if expires != nil {
		k.ExpiresAt = expires.UTC()
	}
	if revoked != nil {
		k.RevokedAt = revoked.UTC()
	}
	return &k, nil
}

const insertKeySQL = `INSERT INTO api_keys (` + keyColumns + `)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10::jsonb, $11, coalesce($12::timestamptz, now()), $13, $14)`

func insertKeyArgs(k *store.Key) ([]any, error) {
	if k == nil || k.ID == "" || k.Hash == "" {
		return nil, domain.Errorf(domain.CodeValidation, "a key needs an id and a hash")
	}
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return nil, err
	}
	if k.Scopes == nil {
		scopes = []byte("[]")
	}
	limits, err := json.Marshal(k.Limits)
	if err != nil {
		return nil, err
	}
	if k.Kind == "" {
		k.Kind = store.KeyKindAPI
	}
	return []any{k.ID, k.Name, string(k.Kind), string(scopes), k.Hash, k.SealedSecret, k.Pool, k.MaxUses, k.Uses,
		string(limits), k.RotatedTo, timeArg(k.CreatedAt), timeArg(k.ExpiresAt), timeArg(k.RevokedAt)}, nil
}

// KeyInsert stores a new key.
func (s *Store) KeyInsert(ctx context.Context, k *store.Key) error {
	args, err := insertKeyArgs(k)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, insertKeySQL, args...)
	return err
}

// KeyGet returns one key.
func (s *Store) KeyGet(ctx context.Context, id string) (*store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	return k, translate(err)
}

// KeyGetByHash returns the key whose token hashes to hash.
func (s *Store) KeyGetByHash(ctx context.Context, hash string) (*store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
	return k, translate(err)
}

// KeyList lists keys, oldest first.
func (s *Store) KeyList(ctx context.Context, p *store.KeyListParams) ([]*store.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE ($1 = '' OR kind = $1) AND ($2 OR revoked_at IS NULL)
		ORDER BY created_at, id`, string(p.Kind), p.IncludeRevoked)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, k)
	}
	return out, translate(rows.Err())
}

// KeyRevoke revokes a key, keeping the first revocation time.
func (s *Store) KeyRevoke(ctx context.Context, p *store.KeyRevokeParams) (*store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `UPDATE api_keys
		SET revoked_at = coalesce(revoked_at, $2::timestamptz, now())
		WHERE id = $1 RETURNING `+keyColumns, p.ID, timeArg(p.Now)))
	return k, translate(err)
}

// KeyRotate inserts the new key and shortens the old one's life in one
// transaction.
func (s *Store) KeyRotate(ctx context.Context, p *store.KeyRotateParams) (*store.Key, error) {
	args, err := insertKeyArgs(p.New)
	if err != nil {
		return nil, err
	}
	var old *store.Key
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		old, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys
			SET expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $2 THEN expires_at ELSE $2 END,
				rotated_to = $3
			WHERE id = $1 AND revoked_at IS NULL
				AND (expires_at IS NULL OR expires_at > coalesce($4::timestamptz, now()))
			RETURNING `+keyColumns, p.ID, p.OldExpiresAt, p.New.ID, timeArg(p.Now)))
		if errNoRows(err) {
			return keyUnusable(ctx, tx, p.ID)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, insertKeySQL, args...)
		return err
	})
	return old, translate(err)
}

// KeyConsume spends one use of a join token; the row lock of the UPDATE
// serializes concurrent consumers, and the WHERE is judged on the latest row.
func (s *Store) KeyConsume(ctx context.Context, p *store.KeyConsumeParams) (*store.Key, error) {
	var k *store.Key
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET uses = uses + 1
			WHERE id = $1 AND revoked_at IS NULL
				AND (expires_at IS NULL OR expires_at > coalesce($2::timestamptz, now()))
				AND (max_uses = 0 OR uses < max_uses)
			RETURNING `+keyColumns, p.ID, timeArg(p.Now)))
		if errNoRows(err) {
			return keyUnusable(ctx, tx, p.ID)
		}
		return err
	})
	return k, translate(err)
}

// keyUnusable explains why a conditional update of key id matched nothing.
func keyUnusable(ctx context.Context, tx pgx.Tx, id string) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1)`, id).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return domain.ErrNotFound
	}
	return &sentinelError{msg: "key " + id + " is revoked, expired or used up", is: domain.ErrConflict}
}

// SignatureRemember records a signature unless it is already recorded and
// live. ON CONFLICT takes the row lock, so of two servers racing with the
// same signature exactly one inserts (or revives an expired row).
func (s *Store) SignatureRemember(ctx context.Context, p *store.SignatureRememberParams) (bool, error) {
	n, err := s.exec(ctx, `INSERT INTO request_signatures AS r (key_id, signature, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key_id, signature) DO UPDATE SET expires_at = excluded.expires_at
		WHERE r.expires_at <= coalesce($4::timestamptz, now())`,
		p.KeyID, p.Signature, p.ExpiresAt, timeArg(p.Now))
	return n == 1, err
}

// SignatureForget deletes expired signatures.
func (s *Store) SignatureForget(ctx context.Context, p *store.SignatureForgetParams) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM request_signatures WHERE expires_at < $1`, p.Before)
	return int(n), err
}
