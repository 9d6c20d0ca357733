package bundle_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// rewrite unpacks archive, lets change edit its files (by clean name),
// and packs them again.
func rewrite(t testing.TB, archive []byte, change func(files map[string][]byte)) []byte {
	t.Helper()
	files := untarAll(t, archive)
	change(files)
	var entries []tarFile
	for _, name := range slices.Sorted(maps.Keys(files)) {
		entries = append(entries, tarFile{name: "/" + name, body: string(files[name])})
	}
	return tarball(t, entries...)
}

func untarAll(t testing.TB, archive []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(hdr.Name, "/")] = body
	}
}

// fileList is what OPA's signers put in a payload for files.
func fileList(t testing.TB, files map[string][]byte, alg string) []opabundle.FileInfo {
	t.Helper()
	h, err := opabundle.NewSignatureHasher(opabundle.HashingAlgorithm(alg))
	if err != nil {
		t.Fatal(err)
	}
	var list []opabundle.FileInfo
	for _, name := range slices.Sorted(maps.Keys(files)) {
		var value any = files[name]
		if opabundle.IsStructuredDoc(name) {
			if err := util.UnmarshalJSON(files[name], &value); err != nil {
				t.Fatal(err)
			}
		}
		digest, err := h.HashFile(value)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, opabundle.NewFile(name, hex.EncodeToString(digest), alg))
	}
	return list
}

// resign signs the files of an unsigned archive with a hand-made JWT:
// headers beyond alg only as given (so no kid by default), and the claims
// given ("algorithm" picks the digest of every file). A nil key with
// HS256 uses the verifier's public key PEM as the HMAC secret.
func resign(t testing.TB, unsigned []byte, k *testKey, alg jwa.SignatureAlgorithm, headers, claims map[string]any) []byte {
	t.Helper()
	digest := "SHA-256"
	payload := map[string]any{}
	for name, value := range claims {
		if name == "algorithm" {
			digest = value.(string)
			continue
		}
		payload[name] = value
	}
	payload["files"] = fileList(t, untarAll(t, unsigned), digest)
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	hdrs := jws.NewHeaders()
	for name, value := range headers {
		if err := hdrs.Set(name, value); err != nil {
			t.Fatal(err)
		}
	}
	var signingKey any
	if k != nil {
		signingKey = k.private
	} else {
		signingKey = key(t, "rsa").publicPEM
	}
	token, err := jws.Sign(body, jws.WithKey(alg, signingKey, jws.WithProtectedHeaders(hdrs)))
	if err != nil {
		t.Fatal(err)
	}
	return withToken(t, unsigned, string(token))
}

// unsignedToken is a JWT over the files of an unsigned archive whose
// header says alg, with an empty signature.
func unsignedToken(t testing.TB, unsigned []byte, alg string) string {
	t.Helper()
	header, _ := json.Marshal(map[string]string{"alg": alg})
	payload, _ := json.Marshal(map[string]any{"files": fileList(t, untarAll(t, unsigned), "SHA-256")})
	return b64(header) + "." + b64(payload) + "."
}

// withToken adds a .signatures.json holding token to an unsigned archive.
func withToken(t testing.TB, unsigned []byte, token string) []byte {
	t.Helper()
	return rewrite(t, unsigned, func(files map[string][]byte) {
		files[".signatures.json"], _ = json.Marshal(opabundle.SignaturesConfig{Signatures: []string{token}})
	})
}

func signatureParts(t testing.TB, archive []byte) []string {
	t.Helper()
	var sc opabundle.SignaturesConfig
	if err := json.Unmarshal(untarAll(t, archive)[".signatures.json"], &sc); err != nil || len(sc.Signatures) != 1 {
		t.Fatalf("signatures %v: %v", sc, err)
	}
	return strings.Split(sc.Signatures[0], ".")
}

func signatureHeader(t testing.TB, archive []byte) map[string]any {
	t.Helper()
	return decodeSegment(t, signatureParts(t, archive)[0])
}

func signaturePayload(t testing.TB, archive []byte) map[string]any {
	t.Helper()
	return decodeSegment(t, signatureParts(t, archive)[1])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func decodeSegment(t testing.TB, segment string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func bigOne() *big.Int { return big.NewInt(1) }
