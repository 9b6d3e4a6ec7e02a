package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// leaderAttemptSQL takes or renews a leadership in one statement, as the
// PostgreSQL store does: insert the row if absent, else update it only
// WHERE the caller holds it or it has expired. Writes are serialized by the
// single writer, so there is no race to lose. One server on SQLite is the
// only contender and is always elected.
const leaderAttemptSQL = `
INSERT INTO leader (name, holder, term, elected_at, expires_at) VALUES ($1, $2, 1, $3, $4)
ON CONFLICT (name) DO UPDATE SET
	holder = excluded.holder,
	term = CASE WHEN leader.holder = excluded.holder AND leader.expires_at > excluded.elected_at
		THEN leader.term ELSE leader.term + 1 END,
	elected_at = CASE WHEN leader.holder = excluded.holder AND leader.expires_at > excluded.elected_at
		THEN leader.elected_at ELSE excluded.elected_at END,
	expires_at = excluded.expires_at
WHERE leader.holder = excluded.holder OR leader.expires_at <= excluded.elected_at
RETURNING name, holder, term, elected_at, expires_at`

const leaderGetSQL = `SELECT name, holder, term, elected_at, expires_at FROM leader WHERE name = $1`

// LeaderAttempt takes or renews the leadership for p.Holder, or reads who
// holds it, in one write transaction.
func (s *Store) LeaderAttempt(ctx context.Context, p *store.LeaderAttemptParams) (*store.Leadership, error) {
	if p.Name == "" || p.Holder == "" || p.TTL <= 0 {
		return nil, domain.Errorf(domain.CodeValidation, "a leadership needs a name, a holder and a positive TTL")
	}
	at := now(p.Now)
	var l *store.Leadership
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		l, err = scanLeadership(tx.QueryRowContext(ctx, leaderAttemptSQL, p.Name, p.Holder, micros(at), micros(at.Add(p.TTL))))
		if errors.Is(err, sql.ErrNoRows) {
			l, err = scanLeadership(tx.QueryRowContext(ctx, leaderGetSQL, p.Name))
		}
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return l, nil
}

// LeaderResign empties the holder and ends the term now, if p.Holder holds it.
func (s *Store) LeaderResign(ctx context.Context, p *store.LeaderResignParams) error {
	if p.Name == "" || p.Holder == "" {
		return domain.Errorf(domain.CodeValidation, "a leadership needs a name and a holder")
	}
	at := micros(now(p.Now))
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE leader SET holder = '', expires_at = $3 WHERE name = $1 AND holder = $2`,
			p.Name, p.Holder, at)
		return err
	}))
}

func scanLeadership(row *sql.Row) (*store.Leadership, error) {
	var (
		l                  store.Leadership
		elected, expiresAt int64
	)
	if err := row.Scan(&l.Name, &l.Holder, &l.Term, &elected, &expiresAt); err != nil {
		return nil, err
	}
	l.ElectedAt, l.ExpiresAt = fromMicros(elected), fromMicros(expiresAt)
	return &l, nil
}
