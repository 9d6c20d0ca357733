package bundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// Signed bundles are OPA's (https://www.openpolicyagent.org/docs/management-bundles#signing):
// a /.signatures.json file holds one JWT whose payload lists every other
// file of the bundle with its SHA-256 digest (of the bytes, or, for
// data.json and .manifest, of the parsed JSON in OPA's canonical order).
// Verifying is checking the JWT with the one configured public key, then
// every file against the list: a file the list lacks, a file whose digest
// differs and a listed file the bundle lacks are each refused. The
// manifest is among the files, so its revision is covered too.
//
// OPA picks the verification key by the kid of the JWT header, or by the
// deprecated keyid claim, unless its configuration names one; a bundle
// with neither once went unverified (GHSA-g2pf-6v5v-qcc8). tollgate has
// one key (two while rotating), names it itself, and never reads kid or
// keyid: every signed bundle is checked with the configured key, and with
// a key set an unsigned bundle is refused.

// ErrNotSigned is returned for a bundle without a signature when a
// verification key requires one.
var ErrNotSigned = errors.New("not signed")

// ErrBadSignature is returned for a signature that does not verify with
// the verification key or does not cover the bundle's files exactly.
var ErrBadSignature = errors.New("bad signature")

// verificationKeyID names the one key in OPA's verification config. It
// is ours, not the bundle's: OPA uses it instead of any kid or keyid.
const verificationKeyID = "tollgate"

// Verifier checks bundle signatures with one public key, or a few while
// the signing key is rotated: a signature verifies if one of them made it.
type Verifier struct {
	keys []verificationKey
}

// verificationKey is one public key of a Verifier.
type verificationKey struct {
	// publicPEM is the key as PKIX PEM, the form OPA's verifier parses.
	publicPEM string
	// algs are the JWS algorithms the key can verify.
	algs []string
	// fingerprint is "sha256:" and the hex digest of the key's DER
	// SubjectPublicKeyInfo, to name the key in logs.
	fingerprint string
}

// maxVerificationKeys bounds the keys of one Verifier: a rotation needs
// two.
const maxVerificationKeys = 8

// LoadVerifier reads PEM public keys (PKIX "PUBLIC KEY", PKCS #1 "RSA
// PUBLIC KEY", or a "CERTIFICATE" holding one) from file: usually one,
// the old and the new one while the signing key is rotated.
func LoadVerifier(file string) (*Verifier, error) {
	body, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("verification key: %w", err)
	}
	v, err := NewVerifier(body)
	if err != nil {
		return nil, fmt.Errorf("verification key %s: %w", file, err)
	}
	return v, nil
}

// NewVerifier is LoadVerifier for the contents of the file. Only RSA
// (2048 bits or more) and ECDSA P-256, P-384 and P-521 keys are accepted,
// the asymmetric keys OPA signs bundles with. HMAC secrets are refused:
// every server holding the secret to verify could also sign.
func NewVerifier(pemBytes []byte) (*Verifier, error) {
	v := &Verifier{}
	for rest := pemBytes; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if len(v.keys) == maxVerificationKeys {
			return nil, fmt.Errorf("more than %d keys", maxVerificationKeys)
		}
		k, err := parseVerificationKey(block)
		if err != nil {
			if len(v.keys) > 0 || len(rest) > 0 {
				err = fmt.Errorf("PEM block %d: %w", len(v.keys)+1, err)
			}
			return nil, err
		}
		v.keys = append(v.keys, k)
	}
	if len(v.keys) == 0 {
		return nil, errors.New("not a PEM public key (an HMAC secret is not supported: every server that verifies with it could sign with it)")
	}
	return v, nil
}

func parseVerificationKey(block *pem.Block) (verificationKey, error) {
	var public any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		public, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		public, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			public = cert.PublicKey
		}
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return verificationKey{}, errors.New("is a private key: servers need only the public key (openssl pkey -in KEY -pubout -out public.pem); keep the private key where bundles are built")
	default:
		return verificationKey{}, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return verificationKey{}, err
	}
	algs, err := algorithmsFor(public)
	if err != nil {
		return verificationKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(public)
	if err != nil {
		return verificationKey{}, err
	}
	sum := sha256.Sum256(der)
	return verificationKey{
		publicPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		algs:        algs,
		fingerprint: "sha256:" + hex.EncodeToString(sum[:]),
	}, nil
}

// Fingerprint names the keys, comma-separated: "sha256:" and the hex
// SHA-256 of each key's DER SubjectPublicKeyInfo
// (`openssl pkey -pubin -in KEY -outform DER | sha256sum`).
func (v *Verifier) Fingerprint() string {
	fingerprints := make([]string, len(v.keys))
	for i, k := range v.keys {
		fingerprints[i] = k.fingerprint
	}
	return strings.Join(fingerprints, ",")
}

// algorithmsFor lists the JWS algorithms a public key verifies that OPA
// also signs with (OPA's keys package: RS*, PS*, ES*; no EdDSA).
func algorithmsFor(public any) ([]string, error) {
	switch k := public.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("an RSA key of %d bits: at least 2048 are needed", k.N.BitLen())
		}
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("an ECDSA key on %s: use P-256, P-384 or P-521", k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("a %T key: OPA signs bundles with RSA or ECDSA keys only", public)
}

// checkSignature finds the signature among entries and, with a Verifier,
// checks it. Without one, a signature is only decoded: nothing vouches for
// it, so it proves nothing, and the bundle is read as unsigned bundles are.
func checkSignature(entries []entry, v *Verifier) (signed bool, err error) {
	i := slices.IndexFunc(entries, func(e entry) bool { return e.name == signaturesFile })
	if i < 0 {
		if v != nil {
			return false, fmt.Errorf("%w: the bundle has no %s, and with a verification key only signed bundles are accepted", ErrNotSigned, signaturesFile)
		}
		return false, nil
	}
	var sc opabundle.SignaturesConfig
	if err := util.UnmarshalJSON(entries[i].body, &sc); err != nil {
		return true, fmt.Errorf("%w: %s: %v", ErrBadSignature, signaturesFile, err)
	}
	if v == nil {
		return true, nil
	}
	return true, v.verify(sc, entries)
}

// verify checks sc with the key, then every entry against the files it
// lists, and reports every file that does not match.
func (v *Verifier) verify(sc opabundle.SignaturesConfig, entries []entry) error {
	// opa build names its default signer "_default"; opa sign, nothing.
	if sc.Plugin != "" && sc.Plugin != "_default" {
		return fmt.Errorf("%w: signed with the signing plugin %q: only OPA's default signatures are verified", ErrBadSignature, short(sc.Plugin))
	}
	if len(sc.Signatures) != 1 {
		return fmt.Errorf("%w: %s holds %d signatures, want exactly one", ErrBadSignature, signaturesFile, len(sc.Signatures))
	}
	alg, candidates, err := v.algorithm(sc.Signatures[0])
	if err != nil {
		return err
	}
	// OPA verifies with the algorithm of the key's config, never the
	// header's: the header's only chooses among those the key fits.
	var listed map[string]opabundle.FileInfo
	for _, k := range candidates {
		vc := opabundle.NewVerificationConfig(map[string]*opabundle.KeyConfig{
			verificationKeyID: {Key: k.publicPEM, Algorithm: alg},
		}, verificationKeyID, "", nil)
		if listed, err = opabundle.VerifyBundleSignature(sc, vc); err == nil {
			break
		}
		if err.Error() == "scope mismatch" {
			return fmt.Errorf("%w: the signature carries a scope; tollgate verifies signatures made without one", ErrBadSignature)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: it does not verify with the verification key %s (signed with another key, or changed since): %v", ErrBadSignature, v.Fingerprint(), err)
	}

	var unlisted, changed []string
	for _, e := range entries {
		if e.name == signaturesFile {
			continue
		}
		file, ok := listed[e.name]
		if !ok {
			unlisted = append(unlisted, e.name)
			continue
		}
		delete(listed, e.name)
		digest, err := fileDigest(e, opabundle.HashingAlgorithm(file.Algorithm))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadSignature, short(e.name), err)
		}
		if want, err := hex.DecodeString(file.Hash); err != nil || !bytes.Equal(want, digest) {
			changed = append(changed, e.name)
		}
	}
	missing := slices.Sorted(maps.Keys(listed))
	var problems []string
	if len(changed) > 0 {
		problems = append(problems, "changed since signing: "+names(changed))
	}
	if len(unlisted) > 0 {
		problems = append(problems, "not covered by the signature (added since signing): "+names(unlisted))
	}
	if len(missing) > 0 {
		problems = append(problems, "signed but missing from the bundle (removed since signing): "+names(missing))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrBadSignature, strings.Join(problems, "; "))
	}
	return nil
}

// algorithm reads the alg of the JWT's header and accepts it only if a
// key can verify it, returning those keys: "none", HMAC with the public
// key as the secret, or an RSA algorithm for an EC key never reach OPA's
// verifier.
func (v *Verifier) algorithm(token string) (string, []verificationKey, error) {
	header, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	var h struct {
		Alg string `json:"alg"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil {
		return "", nil, fmt.Errorf("%w: the signature is not a JWT: %v", ErrBadSignature, err)
	}
	var candidates []verificationKey
	var algs []string
	for _, k := range v.keys {
		if slices.Contains(k.algs, h.Alg) {
			candidates = append(candidates, k)
		}
		algs = append(algs, k.algs...)
	}
	if len(candidates) == 0 {
		slices.Sort(algs)
		return "", nil, fmt.Errorf("%w: the signature's algorithm %q does not fit the verification key %s (want %s)",
			ErrBadSignature, short(h.Alg), v.Fingerprint(), strings.Join(slices.Compact(algs), ", "))
	}
	return h.Alg, candidates, nil
}

// fileDigest hashes a file as OPA's signer does: the bytes, or for
// data.json and .manifest the parsed JSON in canonical order. The JSON is
// parsed exactly as it is read for use, so the digest covers the values
// the server loads, not another reading of the same bytes.
func fileDigest(e entry, alg opabundle.HashingAlgorithm) ([]byte, error) {
	switch alg {
	case opabundle.SHA256, opabundle.SHA384, opabundle.SHA512, opabundle.SHA512256:
	default:
		return nil, fmt.Errorf("hashing algorithm %q: want SHA-256, SHA-384, SHA-512 or SHA-512-256", short(string(alg)))
	}
	h, err := opabundle.NewSignatureHasher(alg)
	if err != nil {
		return nil, err
	}
	var value any = e.body
	if opabundle.IsStructuredDoc(e.name) {
		var doc any
		if err := util.UnmarshalJSON(e.body, &doc); err != nil {
			return nil, err
		}
		value = doc
	}
	return h.HashFile(value)
}

// names lists file names for an error, bounded: the names come from an
// untrusted bundle and end up in logs.
func names(list []string) string {
	const most = 10
	out := make([]string, 0, most+1)
	for i, name := range list {
		if i == most {
			out = append(out, fmt.Sprintf("and %d more", len(list)-most))
			break
		}
		out = append(out, strconv.Quote(short(name)))
	}
	return strings.Join(out, ", ")
}

// short bounds one untrusted value for a message.
func short(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	return strings.ToValidUTF8(s[:most], "") + "..."
}
