package bundle

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A bundle server is any static HTTP host (nginx, S3, a CDN): tollgate
// asks it for the bundle with a conditional GET, so an unchanged bundle
// costs a 304 and no transfer.

// FetchTimeout bounds one request to the bundle server, body included.
const FetchTimeout = 30 * time.Second

// CacheFile is the name of the last good bundle under --bundle-cache.
const CacheFile = "bundle.tar.gz"

// Remote is a bundle on a bundle server. It remembers the validators of
// the last answer (ETag, Last-Modified) to ask only for a change. A Remote
// is used by one goroutine at a time.
type Remote struct {
	url    *url.URL
	client *http.Client
	// etag and lastModified are the validators of the last 200 answer.
	etag, lastModified string
}

// IsURL reports whether a --bundle value names a bundle server rather
// than a file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// NewRemote returns the Remote for an http:// or https:// URL. A nil
// client means one with FetchTimeout and the default transport (proxies
// from the environment, the system's CAs), that follows at most five
// redirects and never from https to http.
func NewRemote(rawURL string, client *http.Client) (*Remote, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bundle URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("bundle URL %s: want http:// or https:// and a host", Redact(rawURL))
	}
	if client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		transport.ResponseHeaderTimeout = FetchTimeout
		client = &http.Client{Transport: transport, Timeout: FetchTimeout, CheckRedirect: CheckRedirect}
	}
	return &Remote{url: u, client: client}, nil
}

// CheckRedirect is the redirect rule of NewRemote's default client: it
// follows a few redirects, never one from https to http:
// a redirect must not strip the bundle's transport security.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("more than 5 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect from https to %s", Redact(req.URL.String()))
	}
	return nil
}

// String is the URL without credentials or query (redacted, see Redact).
func (r *Remote) String() string { return Redact(r.url.String()) }

// Fetch asks for the bundle, conditionally once an answer gave a
// validator: If-None-Match with the last ETag or, when the server sent
// none, If-Modified-Since with the last Last-Modified. It returns the
// archive, or notModified on a 304. The body is read up to
// MaxBundleBytes; anything but 200 and 304 is an error.
func (r *Remote) Fetch(ctx context.Context) (archive []byte, notModified bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url.String(), nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("User-Agent", "tollgate")
	switch {
	case r.etag != "":
		req.Header.Set("If-None-Match", r.etag)
	case r.lastModified != "":
		req.Header.Set("If-Modified-Since", r.lastModified)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("fetching %s: %w", r, redactError(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if r.etag == "" && r.lastModified == "" {
			return nil, false, fmt.Errorf("fetching %s: 304 Not Modified to an unconditional request", r)
		}
		return nil, true, nil
	default:
		// The body is not read: an error page is no business of the log.
		return nil, false, fmt.Errorf("fetching %s: the server answered %s", r, resp.Status)
	}
	if resp.ContentLength > MaxBundleBytes {
		return nil, false, fmt.Errorf("fetching %s: %w: %d bytes, over %d", r, ErrTooLarge, resp.ContentLength, MaxBundleBytes)
	}
	archive, err = io.ReadAll(io.LimitReader(resp.Body, MaxBundleBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("fetching %s: %w", r, redactError(err))
	}
	if len(archive) > MaxBundleBytes {
		return nil, false, fmt.Errorf("fetching %s: %w: over %d bytes", r, ErrTooLarge, MaxBundleBytes)
	}
	r.etag = bounded(resp.Header.Get("ETag"))
	r.lastModified = bounded(resp.Header.Get("Last-Modified"))
	return archive, false, nil
}

// bounded drops a validator too long to be an honest one rather than
// send it back on every request.
func bounded(validator string) string {
	if len(validator) > 256 {
		return ""
	}
	return validator
}

// Redact returns a bundle URL fit for logs: no user name or password,
// and no query, where presigned URLs (S3's X-Amz-Signature) carry their
// credentials.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(a URL that does not parse)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	u.Fragment = ""
	return u.String()
}

// redactError drops the URL that net/http puts in its errors: it may
// hold credentials.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// WriteCache keeps archive as the last good bundle under dir: written to
// a temporary file, then renamed, readable by the owner only. The folder
// is created if missing.
func WriteCache(dir string, archive []byte) error {
	if err := writeAtomic(filepath.Join(dir, CacheFile), archive, 0o700, 0o600); err != nil {
		return fmt.Errorf("bundle cache: %w", err)
	}
	return nil
}

// ReadCache reads the bundle WriteCache kept under dir, with the bounds
// of Read. The caller parses and verifies it as any bundle.
func ReadCache(dir string) ([]byte, error) {
	path := filepath.Join(dir, CacheFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle cache: %w", err)
	}
	defer f.Close()
	archive, err := io.ReadAll(io.LimitReader(f, MaxBundleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bundle cache %s: %w", path, err)
	}
	if len(archive) > MaxBundleBytes {
		return nil, fmt.Errorf("bundle cache %s: %w", path, ErrTooLarge)
	}
	return archive, nil
}
