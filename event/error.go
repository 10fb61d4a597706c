package event

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status code, in one place.
const (
	EINVALID      = "invalid"      // the caller sent something malformed
	ENOTFOUND     = "not_found"    // no such event, post or question
	ECONFLICT     = "conflict"     // the action does not fit the current state
	EUNAUTHORIZED = "unauthorized" // no credentials, or wrong ones
	EFORBIDDEN    = "forbidden"    // credentials of a role that may not do this
	ERATELIMIT    = "rate_limited" // too many requests; try again later
	EUNAVAILABLE  = "unavailable"  // a dependency (the log) cannot be reached
	EINTERNAL     = "internal"     // a bug
)

// Error is a domain error with a code and a message safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil,
// and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, and
// "internal error" for any other error, so internals never reach a caller.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
