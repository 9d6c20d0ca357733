// Package oauth holds the one error type that travels from the engine to the
// HTTP edge: an OAuth error code, a description and the HTTP status it maps
// to. It is turned into a JSON body in exactly one place (httpapi).
package oauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tollgate-dev/tollgate/engine/text"
)

// Error codes of RFC 6749 §5.2, RFC 8707 §2 and RFC 6750 §3.1.
const (
	InvalidRequest       = "invalid_request"
	InvalidClient        = "invalid_client"
	UnauthorizedClient   = "unauthorized_client"
	UnsupportedGrantType = "unsupported_grant_type"
	InvalidScope         = "invalid_scope"
	InvalidTarget        = "invalid_target"
	InvalidToken         = "invalid_token"
	ServerError          = "server_error"
	TemporarilyUnavail   = "temporarily_unavailable"
	SlowDown             = "slow_down"
)

// Error is an OAuth 2.0 error response.
type Error struct {
	Code        string
	Description string
	// Status is the HTTP status; zero means the code's usual status.
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter int
	// Cause is an internal error for logs; it is never sent to the caller.
	Cause error
}

// MaxDescriptionBytes bounds the description a caller is sent: a policy's
// denial text, and many of ours, name the values the caller sent, which
// are theirs to make long (SPEC §6).
const MaxDescriptionBytes = 1 << 10

// PublicDescription is the description as the caller gets it: cut at
// MaxDescriptionBytes, with a marker saying how much was left out.
func (e *Error) PublicDescription() string {
	return text.Truncate(e.Description, MaxDescriptionBytes)
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.PublicDescription(), e.Cause)
	}
	return e.Code + ": " + e.PublicDescription()
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// HTTPStatus is the status the error is sent with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case InvalidClient, InvalidToken:
		return http.StatusUnauthorized
	case ServerError:
		return http.StatusInternalServerError
	case TemporarilyUnavail:
		return http.StatusServiceUnavailable
	case SlowDown:
		return http.StatusTooManyRequests
	default:
		return http.StatusBadRequest
	}
}

// New returns an Error with the code's usual status.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure as server_error; the cause stays
// internal so nothing about it leaks to callers (fail closed).
func Internal(cause error) *Error {
	return &Error{Code: ServerError, Description: "the server could not process the request", Cause: cause}
}

// As returns err as an *Error, wrapping anything else as server_error.
func As(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return Internal(err)
}
