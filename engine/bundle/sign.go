package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// DefaultSigningKeyID is the kid a signature carries unless told
// otherwise: the id `opa build --signing-key` gives its own signatures,
// so an OPA that picks keys by kid treats tollgate's and opa's alike.
const DefaultSigningKeyID = "default"

// SigningOptions are what `tollgate bundle build` may say about a
// signature besides the key.
type SigningOptions struct {
	// Alg is the JWS algorithm; empty picks the key's own: RS256 for RSA,
	// ES256, ES384 or ES512 for P-256, P-384 or P-521.
	Alg string
	// KeyID is the JWT header's kid; empty means DefaultSigningKeyID.
	// tollgate never reads it back; an OPA configured without a keyid
	// picks its key by it.
	KeyID string
	// ClaimsFile is a JSON object of extra claims for the payload (iss,
	// iat, ...), as `opa build --claims-file` takes. It may not set files
	// or scope.
	ClaimsFile string
}

// Signer signs bundles in OPA's format (verify.go) with one private key.
type Signer struct {
	// privatePEM is the key as PKCS #8 PEM, the form OPA's signer reads.
	privatePEM string
	alg        string
	keyID      string
	claimsFile string
	// verifier is the public half: Write reads every bundle it signs
	// back through it.
	verifier *Verifier
}

// LoadSigner reads a PEM private key (PKCS #8 "PRIVATE KEY", "RSA PRIVATE
// KEY" or "EC PRIVATE KEY") from keyFile.
func LoadSigner(keyFile string, opts SigningOptions) (*Signer, error) {
	body, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	s, err := NewSigner(body, opts)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", keyFile, err)
	}
	return s, nil
}

// NewSigner is LoadSigner for the contents of the key file. The key must
// be one NewVerifier accepts the public half of, and Alg one it fits.
func NewSigner(keyPEM []byte, opts SigningOptions) (*Signer, error) {
	private, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(private.Public())
	if err != nil {
		return nil, err
	}
	verifier, err := NewVerifier(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		return nil, err
	}
	algs := verifier.keys[0].algs
	alg := opts.Alg
	if alg == "" {
		alg = algs[0]
	}
	if !slices.Contains(algs, alg) {
		return nil, fmt.Errorf("--signing-alg %s does not fit the key: use one of %v (HMAC and EdDSA are not supported)", alg, algs)
	}
	if opts.ClaimsFile != "" {
		if err := checkClaims(opts.ClaimsFile); err != nil {
			return nil, err
		}
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		return nil, err
	}
	keyID := opts.KeyID
	if keyID == "" {
		keyID = DefaultSigningKeyID
	}
	return &Signer{
		privatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		alg:        alg,
		keyID:      keyID,
		claimsFile: opts.ClaimsFile,
		verifier:   verifier,
	}, nil
}

// Verifier returns the Verifier of the signer's public key.
func (s *Signer) Verifier() *Verifier { return s.verifier }

// Alg is the JWS algorithm the signer signs with.
func (s *Signer) Alg() string { return s.alg }

// parsePrivateKey reads the first private key block of a PEM file,
// skipping the "EC PARAMETERS" block `openssl ecparam -genkey` writes
// first.
func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key (an HMAC secret is not supported: every server that verifies with it could sign with it)")
		}
		var key any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted: decrypt it for the build (openssl pkey -in KEY -out plain.pem)")
		default:
			return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
		}
		if err != nil {
			return nil, err
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
				return nil, fmt.Errorf("an ECDSA key on %s: use P-256, P-384 or P-521", k.Curve.Params().Name)
			}
			return k, nil
		}
		return nil, fmt.Errorf("a %T key: OPA signs bundles with RSA or ECDSA keys only", key)
	}
}

// checkClaims refuses a claims file that is not a JSON object, or that
// would replace the list of files or add a scope the verifier refuses.
func checkClaims(file string) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("claims file: %w", err)
	}
	var claims map[string]any
	if err := util.UnmarshalJSON(body, &claims); err != nil || claims == nil {
		return fmt.Errorf("claims file %s: must be a JSON object", file)
	}
	for _, reserved := range []string{"files", "scope"} {
		if _, ok := claims[reserved]; ok {
			return fmt.Errorf("claims file %s: %q is set by the signature itself", file, reserved)
		}
	}
	return nil
}

// sign makes the .signatures.json entry for entries: every file, in name
// order, with its SHA-256 digest, in a JWT signed by OPA's own signer.
func (s *Signer) sign(entries []entry) (entry, error) {
	sorted := slices.Clone(entries)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	files := make([]opabundle.FileInfo, 0, len(sorted))
	for _, e := range sorted {
		if e.name == signaturesFile {
			return entry{}, fmt.Errorf("%s is already there", signaturesFile)
		}
		digest, err := fileDigest(e, opabundle.SHA256)
		if err != nil {
			return entry{}, fmt.Errorf("%s: %w", e.name, err)
		}
		files = append(files, opabundle.NewFile(e.name, hex.EncodeToString(digest), opabundle.SHA256.String()))
	}
	token, err := opabundle.GenerateSignedToken(files, opabundle.NewSigningConfig(s.privatePEM, s.alg, s.claimsFile), s.keyID)
	if err != nil {
		return entry{}, err
	}
	body, err := json.MarshalIndent(opabundle.SignaturesConfig{Signatures: []string{token}}, "", " ")
	if err != nil {
		return entry{}, err
	}
	return entry{name: signaturesFile, body: body}, nil
}

// WriteSigned is Write with a signature by signer over every file; the
// bundle is read back through the signer's Verifier before it is
// returned. RSA signatures are deterministic, so the same inputs still
// give a byte-identical bundle; ECDSA ones are not.
func WriteSigned(w io.Writer, src Files, signer *Signer) (revision string, err error) {
	if signer == nil {
		return "", errors.New("bundle: no signer")
	}
	return write(w, src, signer)
}

// WriteFileSigned is WriteFile with the signature of WriteSigned.
func WriteFileSigned(path string, src Files, signer *Signer) (revision string, err error) {
	if signer == nil {
		return "", errors.New("bundle: no signer")
	}
	return writeFile(path, src, signer)
}
