package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/drover-run/drover/internal/domain"
)

// interpretError translates a driver error into the store's vocabulary at
// the edge, so that no driver type escapes the package: a missing row is
// domain.ErrNotFound, a uniqueness violation domain.ErrConflict, a foreign key
// violation (a line for an unknown task) domain.ErrNotFound.
func interpretError(err error) error {
	var sqlErr *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return domain.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &sqlErr):
		code := sqlErr.Code() // extended result codes are on
		switch {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", domain.ErrConflict, sqlErr.Error())
		case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %s", domain.ErrNotFound, sqlErr.Error())
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED:
			return domain.Errorf(domain.CodeUnavailable, "the database is busy: %s", sqlErr.Error())
		case code&0xff == sqlite3.SQLITE_READONLY, code&0xff == sqlite3.SQLITE_FULL, code&0xff == sqlite3.SQLITE_IOERR,
			code&0xff == sqlite3.SQLITE_CANTOPEN, code&0xff == sqlite3.SQLITE_CORRUPT, code&0xff == sqlite3.SQLITE_NOTADB:
			return domain.Errorf(domain.CodeStoreUnavailable, "the database cannot be written: %s", sqlErr.Error())
		}
		return errors.New("sqlite: " + sqlErr.Error()) // the message, without the driver type
	}
	return err
}

// micros stores a time as unix microseconds; the zero time is 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is micros' inverse, in UTC.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// now is the time a call acts at: the caller's Now, else the clock, at the
// precision the database keeps.
func now(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.Truncate(time.Microsecond).UTC()
}

// jsonOrNull encodes v, or gives NULL when empty says it carries nothing.
func jsonOrNull(v any, empty bool) (any, error) {
	if empty {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// jsonText encodes v, which cannot fail for the plain structs and maps it is
// given; an error here is a programming error, reported rather than hidden.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// decodeJSON decodes a nullable JSON column into v; NULL leaves v alone.
func decodeJSON(col sql.NullString, v any) error {
	if !col.Valid || col.String == "" {
		return nil
	}
	return json.Unmarshal([]byte(col.String), v)
}

// nullString is NULL for the empty string: idempotency keys, which must not
// collide when absent.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// sqlArgs collects a statement's arguments as its text is built; add
// returns the placeholder of the argument it appends.
type sqlArgs []any

func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// limitOrAll is a LIMIT argument: n, or SQLite's "no limit" for n <= 0.
func limitOrAll(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
