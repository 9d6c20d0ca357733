package assertion

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Sign makes what a private_key_jwt client sends: an assertion of
// clientID for the server whose issuer identifier is issuer, valid for a
// minute, with a random jti, signed with the private key in keySrc (a JWK,
// as `tollgate keys generate` writes, or PEM). The algorithm is the JWK's
// own alg, else the first its type allows (RS256 for RSA). It is made as
// draft-ietf-oauth-rfc7523bis asks: typed TypeHeader, its aud the issuer
// as a string.
func Sign(keySrc []byte, clientID, issuer string, now time.Time) (string, error) {
	key, pub, err := keyPair(keySrc)
	if err != nil {
		return "", err
	}
	declared, err := keyOf(pub)
	if err != nil {
		return "", err
	}
	alg := declared.algs[0] // RS256 first for RSA
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	tok, err := jwt.NewBuilder().Issuer(clientID).Subject(clientID).Audience([]string{issuer}).
		JwtID(base64.RawURLEncoding.EncodeToString(jti[:])).IssuedAt(now).Expiration(now.Add(time.Minute)).Build()
	if err != nil {
		return "", err
	}
	tok.Options().Enable(jwt.FlattenAudience)
	header := jws.NewHeaders()
	if err := header.Set(jws.TypeKey, TypeHeader); err != nil {
		return "", err
	}
	// No kid: the server's kid for the key depends on how it was declared
	// (a PEM has none, so it is the thumbprint); without one it tries each
	// current key of the client. jwx would copy the JWK's kid over.
	if err := key.Remove(jwk.KeyIDKey); err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(header)))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// PublicPEM returns the public half of the key in keySrc (a JWK or PEM,
// private or public) as a PEM PUBLIC KEY, the form a public_key block
// declares.
func PublicPEM(keySrc []byte) (string, error) {
	_, pub, err := keyPair(keySrc)
	if err != nil {
		return "", err
	}
	var raw any
	if err := pub.Raw(&raw); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(raw)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// keyPair reads a key file and returns the key and its public half.
func keyPair(src []byte) (key, pub jwk.Key, err error) {
	if key, err = parseAny(src); err != nil {
		return nil, nil, err
	}
	if pub, err = key.PublicKey(); err != nil {
		return nil, nil, err
	}
	return key, pub, nil
}
