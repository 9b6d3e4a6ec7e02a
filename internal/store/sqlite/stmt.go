package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// The hot write statements are prepared once, on the writer connection,
// when the store opens, so that a heartbeat or a log batch is not parsed
// afresh each time (SQLite's parser took about a third of a heartbeat's
// CPU). A transaction uses one through tx.StmtContext, which reuses the
// statement already prepared on the transaction's connection. (They cannot
// be prepared lazily: the writer has one connection, and a transaction
// holds it while its calls run.)
var hotStatements = []string{heartbeatWorkerSQL, renewLeasesSQL, logLastSQL, logInsertSQL}

// prepareHot prepares hotStatements on write.
func prepareHot(ctx context.Context, write *sql.DB) (map[string]*sql.Stmt, error) {
	out := make(map[string]*sql.Stmt, len(hotStatements))
	for _, q := range hotStatements {
		st, err := write.PrepareContext(ctx, q)
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
