package clientauth

import (
	"crypto/x509"

	"github.com/tollgate-dev/tollgate/engine/assertion"
)

// Credentials are what a caller presented to authenticate itself.
type Credentials struct {
	// ID is the client_id sent; for an assertion it may be empty, and the
	// assertion's iss says who it is.
	ID     string
	Secret string
	// Assertion is a private_key_jwt client's signed JWT (RFC 7523 §2.2).
	Assertion string
	// Certificate is the client certificate the TLS handshake verified
	// against the client CA, for tls_client_auth (RFC 8705 §2.1).
	Certificate *x509.Certificate
	// Method is how they came: model.AuthClientSecretBasic (the
	// Authorization header), model.AuthClientSecretPost (the body),
	// model.AuthPrivateKeyJWT (an assertion in the body) or
	// model.AuthTLSClientAuth (a client_id over mutual TLS); empty when
	// none came.
	Method string
}

// AssertionType is the client_assertion_type of a private_key_jwt
// client's assertion (RFC 7523 §2.2).
const AssertionType = assertion.Type

// AssertionAlgorithms are the signature algorithms an assertion may use,
// as server metadata lists them (RFC 8414
// token_endpoint_auth_signing_alg_values_supported).
var AssertionAlgorithms = assertion.Algorithms

// AssertionClientID is the client an assertion says it is from (its iss),
// unverified: empty when raw cannot be read, and then authentication
// fails.
func AssertionClientID(raw string) string {
	id, _ := assertion.ClientID(raw)
	return id
}
