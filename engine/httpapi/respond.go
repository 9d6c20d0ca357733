package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tollgate-dev/tollgate/engine/oauth"
)

// noStore marks a response that carries or concerns credentials
// (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h["Cache-Control"] = valueNoStore
	h["Pragma"] = valueNoCache
}

// writeJSON encodes v as the response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, oauth.Internal(err))
		return
	}
	writeBody(w, status, body)
}

// writeBody writes a JSON body with a final newline; body is not kept.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = valueJSONType
	h["Content-Length"] = []string{strconv.Itoa(len(body) + 1)}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// writeError is the one place an error becomes a response: the RFC 6749
// §5.2 JSON body, its status, and the headers the RFCs ask for.
func writeError(w http.ResponseWriter, err error) {
	oe := oauth.As(err)
	status := oe.HTTPStatus()
	if rec, ok := w.(interface{ SetErrorCode(string) }); ok {
		rec.SetErrorCode(oe.Code)
	}
	noStore(w)
	switch {
	case oe.Code == oauth.InvalidClient:
		// RFC 6749 §5.2: 401 names the scheme to use.
		w.Header().Set("WWW-Authenticate", `Basic realm="tollgate", charset="UTF-8"`)
	case oe.Code == oauth.InvalidToken || status == http.StatusUnauthorized:
		// RFC 6750 §3.
		w.Header().Set("WWW-Authenticate", bearerChallenge(oe))
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(oe.RetryAfter))
	}
	body := errorBody{Error: oe.Code, ErrorDescription: oe.PublicDescription()}
	if status >= 500 {
		// Internal causes stay internal.
		body.ErrorDescription = "the server could not process the request"
	}
	writeJSON(w, status, body)
}

func bearerChallenge(oe *oauth.Error) string {
	return fmt.Sprintf(`Bearer realm="tollgate", error=%q, error_description=%q`, oe.Code, sanitizeQuoted(oe.PublicDescription()))
}

// sanitizeQuoted keeps a header parameter within RFC 6750 §3's allowed
// characters (%x20-21 / %x23-5B / %x5D-7E).
func sanitizeQuoted(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7E && c != '"' && c != '\\' {
			out = append(out, c)
		}
	}
	return string(out)
}

func errMethodNotAllowed(method string) *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidRequest, Description: "method " + method + " is not allowed here", Status: http.StatusMethodNotAllowed}
}

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &oauth.Error{Code: "not_found", Description: "no such endpoint", Status: http.StatusNotFound})
	})
}

func mustJSON(v any) []byte {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with maps of strings and string slices
	}
	return body
}
