package postgres

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drover-run/drover/internal/domain"
)

// translate turns an error from pgx into one the store contract allows:
// domain.ErrNotFound, domain.ErrConflict or a *domain.Error. The result never
// wraps a pgx value, so nothing above the store can depend on the driver.
// Context errors are the caller's own and stay matchable with errors.Is.
// Errors that are not pgx's (already translated, or the store's own) pass
// through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, pgx.ErrNoRows):
		return domain.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return translatePgError(pgErr)
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) {
		return &domain.Error{Code: domain.CodeUnavailable, Message: "postgres: " + err.Error()}
	}
	var domainErr *domain.Error
	if errors.As(err, &domainErr) || errors.Is(err, domain.ErrNotFound) ||
		errors.Is(err, domain.ErrConflict) {
		return err
	}
	return &domain.Error{Code: domain.CodeInternal, Message: "postgres: " + err.Error()}
}

// translatePgError maps an error the server sent by its SQLSTATE class.
func translatePgError(e *pgconn.PgError) error {
	msg := "postgres: " + e.Message
	if e.ConstraintName != "" {
		msg += " (" + e.ConstraintName + ")"
	}
	switch {
	case e.Code == "23505": // unique_violation
		return &sentinelError{msg: msg, is: domain.ErrConflict}
	case e.Code == "23503": // foreign_key_violation: what the row refers to does not exist
		return &sentinelError{msg: msg, is: domain.ErrNotFound}
	case strings.HasPrefix(e.Code, "22"), // data exception: a value out of range, bad JSON
		strings.HasPrefix(e.Code, "23"): // other integrity violations: a check failed
		return &domain.Error{Code: domain.CodeValidation, Message: msg}
	case e.Code == "25006", // read_only_sql_transaction: a standby, or default_transaction_read_only
		e.Code == "53100",               // disk_full
		strings.HasPrefix(e.Code, "58"): // system error: I/O
		return &domain.Error{Code: domain.CodeStoreUnavailable, Message: msg}
	case strings.HasPrefix(e.Code, "08"), // connection exception
		strings.HasPrefix(e.Code, "40"), // serialization failure, deadlock: retry
		strings.HasPrefix(e.Code, "53"), // insufficient resources
		strings.HasPrefix(e.Code, "57"): // operator intervention: shutdown, cancel
		return &domain.Error{Code: domain.CodeUnavailable, Message: msg}
	}
	return &domain.Error{Code: domain.CodeInternal, Message: msg + " (SQLSTATE " + e.Code + ")"}
}

// sentinelError is a domain sentinel error with the server's explanation.
type sentinelError struct {
	msg string
	is  error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.is }
