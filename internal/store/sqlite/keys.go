package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

const keyColumns = `id, name, kind, scopes, hash, sealed_secret, pool, max_uses, uses, limits,
	rotated_to, created_at, expires_at, revoked_at`

func scanKey(sc scanner) (*store.Key, error) {
	var (
		k                         store.Key
		kind, scopes, limits      string
		created, expires, revoked int64
	)
	err := sc.Scan(&k.ID, &k.Name, &kind, &scopes, &k.Hash, &k.SealedSecret, &k.Pool, &k.MaxUses, &k.Uses,
		&limits, &k.RotatedTo, &created, &expires, &revoked)
	if err != nil {
		return nil, err
	}
	k.Kind = store.KeyKind(kind)
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("sqlite: key %s: scopes: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(limits), &k.Limits); err != nil {
		return nil, fmt.Errorf("sqlite: key %s: limits: %w", k.ID, err)
	}
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return &k, nil
}

func insertKey(ctx context.Context, tx *sql.Tx, k *store.Key) error {
	if k == nil || k.ID == "" || k.Hash == "" {
		return domain.Errorf(domain.CodeValidation, "a key needs an id and a hash")
	}
	scopes, err := jsonText(k.Scopes)
	if err != nil {
		return err
	}
	limits, err := jsonText(k.Limits)
	if err != nil {
		return err
	}
	if k.Kind == "" {
		k.Kind = store.KeyKindAPI
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		k.ID, k.Name, string(k.Kind), scopes, k.Hash, k.SealedSecret, k.Pool, k.MaxUses, k.Uses, limits,
		k.RotatedTo, micros(now(k.CreatedAt)), micros(k.ExpiresAt), micros(k.RevokedAt))
	return err
}

// KeyInsert stores a new key.
func (s *Store) KeyInsert(ctx context.Context, k *store.Key) error {
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return insertKey(ctx, tx, k)
	}))
}

// KeyGet returns one key.
func (s *Store) KeyGet(ctx context.Context, id string) (*store.Key, error) {
	k, err := scanKey(s.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	return k, interpretError(err)
}

// KeyGetByHash returns the key whose token hashes to hash.
func (s *Store) KeyGetByHash(ctx context.Context, hash string) (*store.Key, error) {
	k, err := scanKey(s.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
	return k, interpretError(err)
}

// KeyList lists keys, oldest first.
func (s *Store) KeyList(ctx context.Context, p *store.KeyListParams) ([]*store.Key, error) {
	var args sqlArgs
	q := `SELECT ` + keyColumns + ` FROM api_keys WHERE 1=1`
	if p.Kind != "" {
		q += ` AND kind = ` + args.add(string(p.Kind))
	}
	if !p.IncludeRevoked {
		q += ` AND revoked_at = 0`
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, k)
	}
	return out, interpretError(rows.Err())
}

// KeyRevoke revokes a key, keeping the first revocation time.
func (s *Store) KeyRevoke(ctx context.Context, p *store.KeyRevokeParams) (*store.Key, error) {
	at := micros(now(p.Now))
	var k *store.Key
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `UPDATE api_keys
			SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END
			WHERE id = $1 RETURNING `+keyColumns, p.ID, at))
		return err
	})
	return k, interpretError(err)
}

// KeyRotate inserts the new key and shortens the old one's life, together.
func (s *Store) KeyRotate(ctx context.Context, p *store.KeyRotateParams) (*store.Key, error) {
	at := micros(now(p.Now))
	var old *store.Key
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		old, err = scanKey(tx.QueryRowContext(ctx, `UPDATE api_keys
			SET expires_at = CASE WHEN expires_at <> 0 AND expires_at < $2 THEN expires_at ELSE $2 END,
				rotated_to = $3
			WHERE id = $1 AND revoked_at = 0 AND (expires_at = 0 OR expires_at > $4)
			RETURNING `+keyColumns, p.ID, micros(p.OldExpiresAt), p.New.ID, at))
		if errors.Is(err, sql.ErrNoRows) {
			return keyUnusable(ctx, tx, p.ID)
		}
		if err != nil {
			return err
		}
		return insertKey(ctx, tx, p.New)
	})
	return old, interpretError(err)
}

// KeyConsume spends one use of a join token.
func (s *Store) KeyConsume(ctx context.Context, p *store.KeyConsumeParams) (*store.Key, error) {
	at := micros(now(p.Now))
	var k *store.Key
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `UPDATE api_keys SET uses = uses + 1
			WHERE id = $1 AND revoked_at = 0 AND (expires_at = 0 OR expires_at > $2)
				AND (max_uses = 0 OR uses < max_uses)
			RETURNING `+keyColumns, p.ID, at))
		if errors.Is(err, sql.ErrNoRows) {
			return keyUnusable(ctx, tx, p.ID)
		}
		return err
	})
	return k, interpretError(err)
}

// keyUnusable explains why a conditional update of key id matched nothing:
// the key does not exist, or it exists but may not be used.
func keyUnusable(ctx context.Context, tx *sql.Tx, id string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE id = $1`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return domain.ErrNotFound
	}
	return fmt.Errorf("%w: key %s is revoked, expired or used up", domain.ErrConflict, id)
}

// SignatureRemember records a signature unless it is already recorded and
// live. The single writer serializes the check and the insert.
func (s *Store) SignatureRemember(ctx context.Context, p *store.SignatureRememberParams) (bool, error) {
	at := micros(now(p.Now))
	fresh := false
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO request_signatures (key_id, signature, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (key_id, signature) DO UPDATE SET expires_at = excluded.expires_at
			WHERE request_signatures.expires_at <= $4`,
			p.KeyID, p.Signature, micros(p.ExpiresAt), at)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, interpretError(err)
}

// SignatureForget deletes expired signatures.
func (s *Store) SignatureForget(ctx context.Context, p *store.SignatureForgetParams) (int, error) {
	var n int64
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM request_signatures WHERE expires_at < $1`, micros(p.Before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), interpretError(err)
}
