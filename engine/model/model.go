// Package model holds the plain types of a tollgate configuration: the
// settings, servers (APIs), clients, service accounts and groups declared in
// HCL. It knows nothing of HCL, memdb or Rego; every other package speaks in
// these types.
package model

import "time"

// Auth methods a client may declare (RFC 7591 §2 token_endpoint_auth_method).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthTLSClientAuth     = "tls_client_auth"
)

// Signing algorithms tollgate can sign access tokens with.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
	AlgPS256 = "PS256"
)

// Config is one complete, validated set of declarations. It is never mutated
// once built: a reload builds a new one.
type Config struct {
	Settings Settings
	Servers  []*Server
	Clients  []*Client
	Accounts []*Account
	Groups   []*Group
}

// Settings are the server-wide knobs of the settings block.
type Settings struct {
	// Issuer is the iss claim and the metadata issuer; empty means
	// "http://" + the listen address, decided when serving.
	Issuer          string
	DefaultTokenTTL time.Duration
	MaxTokenTTL     time.Duration
	SigningAlg      string
}

// DefaultSettings are used for any attribute the settings block leaves out.
func DefaultSettings() Settings {
	return Settings{
		DefaultTokenTTL: time.Hour,
		MaxTokenTTL:     24 * time.Hour,
		SigningAlg:      AlgES256,
	}
}

// Server is a resource server (an API) that tokens are issued for.
type Server struct {
	ID string
	// Audience is the aud value of its tokens; defaults to ID.
	Audience string
	// Scopes are the permissions the server defines.
	Scopes []string
	// TokenTTL caps the lifetime of its tokens; zero means no cap of its own.
	TokenTTL time.Duration
	// Secrets let the server authenticate to the introspection endpoint.
	Secrets []Secret
}

// Secret is one stored credential: a hash, never the secret itself.
type Secret struct {
	// Hash is "sha256:<hex>", a PHC "$argon2id$..." string or a bcrypt hash.
	Hash string
	// NotAfter ends the secret's validity; zero means it does not expire.
	// Several secrets overlap during a rotation.
	NotAfter time.Time
}

// ValidAt reports whether the secret may be used at t.
func (s Secret) ValidAt(t time.Time) bool { return s.NotAfter.IsZero() || t.Before(s.NotAfter) }

// PublicKey is a key a private_key_jwt client signs its assertions with
// (RFC 7523 §2.2): the public half only, as declared.
type PublicKey struct {
	// Key is a PEM "PUBLIC KEY" (or "CERTIFICATE") or a JWK in JSON.
	Key string
	// NotAfter ends the key's validity; zero means it does not expire.
	// Several keys overlap during a rotation.
	NotAfter time.Time
}

// ValidAt reports whether the key may be used at t.
func (k PublicKey) ValidAt(t time.Time) bool { return k.NotAfter.IsZero() || t.Before(k.NotAfter) }

// CertificateMatch names the certificate a tls_client_auth client presents
// (RFC 8705 §2.1.2). Exactly one field is set; the certificate must also
// chain to the server's client CA.
type CertificateMatch struct {
	// SubjectDN is the subject as RFC 4514 writes it, most specific first
	// ("CN=device-42,O=Example"), compared exactly.
	SubjectDN string
	SANDNS    string
	SANURI    string
	SANIP     string
	SANEmail  string
}

// Access is an upper bound of what a client, account or group may get from
// one server.
type Access struct {
	Server string
	// Scopes may be empty: the audience only, no scopes.
	Scopes []string
}

// Rate is a token bucket: Count tokens per Per.
type Rate struct {
	Count int
	Per   time.Duration
}

// Client is a machine client (an OAuth client_id).
type Client struct {
	ID   string
	Name string
	// AuthMethod is the auth_method declared, or client_secret_basic when
	// none is; then AuthMethodImplicit is set and either secret method is
	// accepted (see Accepts).
	AuthMethod         string
	AuthMethodImplicit bool
	Secrets            []Secret
	// PublicKeys authenticate a private_key_jwt client, which has no secret.
	PublicKeys []PublicKey
	// Certificate authenticates a tls_client_auth client; nil otherwise.
	Certificate *CertificateMatch
	Access      []Access
	// TokenTTL is the lifetime of its tokens; zero means the default.
	TokenTTL time.Duration
	// RateLimit is nil when the client has no limit of its own.
	RateLimit *Rate
	// Impersonate names the service account the client acts as, if any.
	Impersonate string
	Disabled    bool
}

// Accepts reports whether the client may authenticate with method. A
// client that declares no auth_method may send its secret in the
// Authorization header or in the body: client libraries differ in which
// they default to (RFC 6749 §2.3.1 lets a server accept both).
func (c *Client) Accepts(method string) bool {
	if c.AuthMethodImplicit {
		return method == AuthClientSecretBasic || method == AuthClientSecretPost
	}
	return method == c.AuthMethod
}

// Account is a service user account that clients may impersonate.
type Account struct {
	ID            string
	Impersonators []string
	// Attributes are copied to userinfo; values are JSON-compatible
	// (string, bool, float64/json.Number, []any, map[string]any).
	Attributes map[string]any
	Disabled   bool
}

// Group gives its members (clients or accounts) access to servers.
type Group struct {
	ID      string
	Members []string
	Access  []Access
}
