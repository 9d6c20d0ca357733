package repotest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
)

// ReplaceInArchive is the .tar.gz archive with the entry name (with or
// without its leading slash) given body, removed when body is nil, or
// added when the archive has no such entry. Every other entry, the
// manifest and the headers included, is left as it was: a bundle changed
// after its build.
func ReplaceInArchive(t testing.TB, archive []byte, name string, body []byte) []byte {
	t.Helper()
	name = strings.TrimPrefix(name, "/")
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	gzw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gzw)
	write := func(hdr *tar.Header, content []byte) {
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	found := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(hdr.Name, "/") == name {
			found = true
			if body == nil {
				continue
			}
			content = body
			hdr.Size = int64(len(body))
		}
		write(hdr, content)
	}
	if !found && body != nil {
		write(&tar.Header{Name: "/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}, body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gzw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
