// Package apperr owns the domain's error codes. Domain packages return
// *Error values; the web layer maps each code to an HTTP status in one place.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies a failure for whoever asked.
type Code string

const (
	Invalid       Code = "invalid"       // the request is malformed or a value is out of range
	Unprocessable Code = "unprocessable" // well formed, but the values do not make sense together
	NotFound      Code = "not_found"
	Conflict      Code = "conflict"     // e.g. a taken slug, a state that forbids the action
	Unauthorized  Code = "unauthorized" // no or bad credentials
	Forbidden     Code = "forbidden"    // credentials fine, but not for this resource
	TooLarge      Code = "too_large"
	NotAllowed    Code = "method_not_allowed" // the resource exists, the method does not
	RateLimited   Code = "rate_limited"
	Unavailable   Code = "unavailable" // a dependency (the Lightning node) is down
	Internal      Code = "internal"
)

// Error is a failure with a code and a message safe to show to users.
type Error struct {
	Code    Code
	Message string
	Err     error // the cause, for logs; never shown to users
	// Fields maps an input field to what is wrong with it, for forms and
	// API clients that show errors next to the field.
	Fields map[string]string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a user-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with a code and message that keeps err as its cause.
func Wrap(err error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// InvalidFields returns an Unprocessable error listing what is wrong with each
// field; fields must not be empty.
func InvalidFields(fields map[string]string) *Error {
	return &Error{Code: Unprocessable, Message: "Some values are not valid.", Fields: fields}
}

// FieldsOf returns the per-field problems carried by err, if any.
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the user-facing message of err, or a generic one for
// errors that carry no code, so internal text never reaches users.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return CodeOf(err) == code }
