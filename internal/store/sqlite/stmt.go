package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// The hot write statements are prepared once, on the writer connection,
// when the store opens, so that a heartbeat or a log batch is not parsed
// afresh each time (SQLite's parser took about a third of a heartbeat's
// CPU). A transaction uses one through tx.StmtContext, which reuses the
// statement already prepared on the transaction's connection. (They cannot
// be prepared lazily: the writer has one connection, and a transaction
// holds it while its calls run.)
//
// The lease statements of workers listening on one or two queues (most
// workers) are among them: a crowd of workers with a slot or two each
// leases a task or two at a time, and parsing each lease statement afresh
// took half the server's CPU with 2,000 such workers.
var hotStatements = []string{heartbeatWorkersSQL, renewLeasesSQL, logLastSQL, logInsertSQL, leaseSQLFor(1), leaseSQLFor(2),
	finishAttemptSQL, finishUpdateSQL, countResultsSQL}

// hotReads are the hot reads, prepared on the read pool (database/sql
// prepares each on a pooled connection when first used there): a worker's
// credential is looked up on every protocol call the short-lived cache
// misses, and parsing the lookup afresh took over a third of the server's
// CPU with 5,000 workers heartbeating. Every long poll that finds nothing
// asks whether its worker may lease and when work comes due next.
var hotReads = []string{workerByCredentialSQL, nextAvailableSQL, leaseGateSQL}

// prepareHot prepares queries on db.
func prepareHot(ctx context.Context, db *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	out := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, errors.Join(err, closeStmts(out))
		}
		out[q] = st
	}
	return out, nil
}

func closeStmts(m map[string]*sql.Stmt) error {
	var errs []error
	for _, st := range m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// stmt is query for use in tx: the prepared statement if query is a hot
// one, else one prepared for tx alone. Either closes with tx.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.hot[query]; ok {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// leaseSQLFor is the text of the lease statement for a worker listening on
// n queues (which is all the text depends on).
func leaseSQLFor(n int) string {
	w := &domain.Worker{ID: "w"}
	for i := range n {
		w.Queues = append(w.Queues, "q"+strconv.Itoa(i))
	}
	q, _, err := leaseQuery(w, 1, time.Time{}, time.Time{})
	if err != nil {
		panic(err) // the placement filter of an empty worker always encodes
	}
	return q
}

// stmtQuerier runs a prepared statement where a query text is expected.
type stmtQuerier struct{ st *sql.Stmt }

func (q stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return q.st.QueryContext(ctx, args...)
}

func (q stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return q.st.QueryRowContext(ctx, args...)
}

func (q stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return q.st.ExecContext(ctx, args...)
}
