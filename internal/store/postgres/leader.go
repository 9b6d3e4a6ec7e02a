package postgres

import (
	"context"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// leaderAttemptSQL takes or renews a leadership in one statement (River's
// elector): insert the row if it is absent, else update it only WHERE the
// caller already holds it or it has expired. The row lock of ON CONFLICT
// serializes contenders, and the WHERE is judged on the row's latest
// version, so of two servers racing for an expired row exactly one wins.
// $3 is Now, NULL for the database clock.
const leaderAttemptSQL = `
INSERT INTO leader AS l (name, holder, term, elected_at, expires_at)
VALUES ($1, $2, 1, coalesce($3::timestamptz, now()), coalesce($3::timestamptz, now()) + $4::interval)
ON CONFLICT (name) DO UPDATE SET
	holder = excluded.holder,
	term = CASE WHEN l.holder = excluded.holder AND l.expires_at > excluded.elected_at
		THEN l.term ELSE l.term + 1 END,
	elected_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > excluded.elected_at
		THEN l.elected_at ELSE excluded.elected_at END,
	expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at <= excluded.elected_at
RETURNING name, holder, term, elected_at, expires_at`

// LeaderAttempt takes or renews the leadership for p.Holder. When someone
// else holds it, a second query reads who.
func (s *Store) LeaderAttempt(ctx context.Context, p *store.LeaderAttemptParams) (*store.Leadership, error) {
	if err := validLeader(p.Name, p.Holder); err != nil {
		return nil, err
	}
	if p.TTL <= 0 {
		return nil, domain.Errorf(domain.CodeValidation, "a leadership needs a positive TTL")
	}
	l, err := s.scanLeadership(ctx, leaderAttemptSQL, p.Name, p.Holder, timeArg(p.Now), p.TTL)
	if !errNoRows(err) {
		return l, translate(err)
	}
	l, err = s.scanLeadership(ctx, `SELECT name, holder, term, elected_at, expires_at FROM leader WHERE name = $1`, p.Name)
	return l, translate(err)
}

// LeaderResign empties the holder and ends the term now, if p.Holder holds it.
func (s *Store) LeaderResign(ctx context.Context, p *store.LeaderResignParams) error {
	if err := validLeader(p.Name, p.Holder); err != nil {
		return err
	}
	_, err := s.exec(ctx, `UPDATE leader SET holder = '', expires_at = coalesce($3::timestamptz, now())
		WHERE name = $1 AND holder = $2`, p.Name, p.Holder, timeArg(p.Now))
	return err
}

func (s *Store) scanLeadership(ctx context.Context, sql string, args ...any) (*store.Leadership, error) {
	var l store.Leadership
	err := s.pool.QueryRow(ctx, sql, args...).Scan(&l.Name, &l.Holder, &l.Term, &l.ElectedAt, &l.ExpiresAt)
	if err != nil {
		return nil, err
	}
	l.ElectedAt, l.ExpiresAt = l.ElectedAt.UTC(), l.ExpiresAt.UTC()
	return &l, nil
}

func validLeader(name, holder string) error {
	if name == "" || holder == "" {
		return domain.Errorf(domain.CodeValidation, "a leadership needs a name and a holder")
	}
	return nil
}
