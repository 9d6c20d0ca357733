package authz

import "time"

// AuditEvent is what the service says of one token, introspection or
// revocation request, for its Auditor. It has no field for a secret, a
// secret hash, a client assertion or a token, and must never get one: the
// audit log is read by more people than the credentials are. Its values
// may come from a caller: whoever writes them bounds them.
type AuditEvent struct {
	Time       time.Time
	Event      string // "token", "introspect", "revoke"
	Client     string
	Subject    string
	Audience   []string
	Scope      []string
	JTI        string
	Outcome    string // "allow", "deny", "error", "active", "inactive", "revoked", "ignored"
	Error      string // OAuth error code
	Reasons    []string
	RemoteAddr string
	// Credential names which of the client's secrets, keys or
	// certificates authenticated: a fingerprint or kid, never the
	// credential (see clientauth.Principal).
	Credential string
	Duration   time.Duration
}

// Auditor receives an AuditEvent for every token, introspection and
// revocation request, once it is answered. The service calls it;
// engine/audit implements it with JSON lines. The event is passed by
// value so that the service's stays on its stack.
type Auditor interface {
	Log(e AuditEvent)
}

type nopAuditor struct{}

func (nopAuditor) Log(AuditEvent) {}
