package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate-dev/tollgate/engine/assertion"
)

func newTokenCommand(getenv func(string) string) *cobra.Command {
	var issuer, clientID, scope, authMethod, keyFile string
	var audiences []string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "token --issuer URL --client-id ID [--key FILE] [--audience A] [--scope S]",
		Short: "Fetch an access token as a client would, and print it",
		Long: `Fetch an access token with the client credentials grant, as any OAuth client
would, and print it. The token endpoint is found through the issuer's RFC 8414
metadata. The client secret comes from TOLLGATE_CLIENT_SECRET, or else the
first line of stdin, never from a flag (flags show up in process lists).
A private_key_jwt client gives --key instead: its private key file, with which
a one-minute assertion is signed (RFC 7523).`,
		Example: `  TOLLGATE_CLIENT_SECRET=... tollgate token --issuer http://127.0.0.1:8080 --client-id gift-deliveries \
      --audience https://api.worldmappers.example --scope read:directions
  tollgate token --client-id batch-job --key ./batch-job-key/KID.jwk.json --audience ledger-api`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var secret string
			if keyFile == "" {
				secret = getenv("TOLLGATE_CLIENT_SECRET")
				if secret == "" {
					line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
					secret = strings.TrimRight(line, "\r\n")
				}
				if secret == "" {
					return errors.New("no client secret: set TOLLGATE_CLIENT_SECRET or pass it on stdin (or --key for a private_key_jwt client)")
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			httpClient := &http.Client{Timeout: 15 * time.Second}
			ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient)
			meta, err := discover(ctx, httpClient, issuer)
			if err != nil {
				return err
			}
			cfg := clientcredentials.Config{
				ClientID:       clientID,
				ClientSecret:   secret,
				TokenURL:       meta.TokenEndpoint,
				Scopes:         strings.Fields(scope),
				EndpointParams: url.Values{"audience": audiences},
			}
			switch {
			case keyFile != "":
				key, err := os.ReadFile(keyFile)
				if err != nil {
					return err
				}
				// The aud is the issuer identifier as the metadata spells
				// it (draft-ietf-oauth-rfc7523bis), not the token URL.
				signed, err := assertion.Sign(key, clientID, meta.Issuer, time.Now())
				if err != nil {
					return fmt.Errorf("--key %s: %w", keyFile, err)
				}
				cfg.AuthStyle = oauth2.AuthStyleInParams
				cfg.EndpointParams.Set("client_assertion_type", assertion.Type)
				cfg.EndpointParams.Set("client_assertion", signed)
			case authMethod == "" || authMethod == "auto":
			case authMethod == "basic" || authMethod == "client_secret_basic":
				cfg.AuthStyle = oauth2.AuthStyleInHeader
			case authMethod == "post" || authMethod == "client_secret_post":
				cfg.AuthStyle = oauth2.AuthStyleInParams
			default:
				return fmt.Errorf("--auth-method %q: want basic or post", authMethod)
			}
			tok, err := cfg.Token(ctx)
			if err != nil {
				return err
			}
			if !verbose {
				fmt.Fprintln(cmd.OutOrStdout(), tok.AccessToken)
				return nil
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{
				"access_token": tok.AccessToken, "token_type": tok.TokenType,
				"expires_in": expiresIn(tok, time.Now()), "scope": tok.Extra("scope"),
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuer, "issuer", "http://127.0.0.1:8080", "the server's issuer URL")
	f.StringVar(&clientID, "client-id", "", "the client_id (required)")
	f.StringArrayVar(&audiences, "audience", nil, "requested audience; repeatable")
	f.StringVar(&scope, "scope", "", "space-delimited scopes")
	f.StringVar(&authMethod, "auth-method", "auto", "basic, post, or auto (try basic, then post); ignored with --key")
	f.StringVar(&keyFile, "key", "", "private key file (JWK or PEM) of a private_key_jwt client")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the whole token response as JSON")
	_ = cmd.MarkFlagRequired("client-id")
	return cmd
}

// expiresIn is the expires_in of the token response. clientcredentials
// turns it into Token.Expiry and leaves Token.ExpiresIn 0, so it is read
// from the response as sent, else from the expiry.
func expiresIn(tok *oauth2.Token, now time.Time) int64 {
	if v, ok := tok.Extra("expires_in").(float64); ok {
		return int64(v)
	}
	if tok.Expiry.IsZero() {
		return 0
	}
	return int64(tok.Expiry.Sub(now).Round(time.Second) / time.Second)
}

// metadata is what `token` reads of a server's RFC 8414 metadata.
type metadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
}

// discover reads the issuer's RFC 8414 metadata.
func discover(ctx context.Context, client *http.Client, issuer string) (*metadata, error) {
	metaURL := strings.TrimSuffix(issuer, "/") + "/.well-known/oauth-authorization-server"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metaURL, nil)
	if err != nil {
		return nil, fmt.Errorf("--issuer: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s answered %s", metaURL, resp.Status)
	}
	var meta metadata
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&meta); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	// RFC 8414 §3.3: the issuer in the metadata must be the one asked for.
	if strings.TrimSuffix(meta.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
		return nil, fmt.Errorf("discovery: metadata issuer %q is not %q", meta.Issuer, issuer)
	}
	if meta.TokenEndpoint == "" {
		return nil, errors.New("discovery: no token_endpoint in the metadata")
	}
	return &meta, nil
}
