package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCommand is a probe for images without a shell or curl
// (the distroless image's Docker HEALTHCHECK): one GET, exit 0 on 200.
func newHealthcheckCommand() *cobra.Command {
	var (
		target   string
		timeout  time.Duration
		insecure bool
	)
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL]",
		Short: "Exit 0 if the server's health endpoint answers 200",
		Long: `GET --url (by default the readiness endpoint of a server on the default
port) and exit 0 if it answers 200, else print why and exit 1. It is the
container image's HEALTHCHECK: the image has no shell and no curl. Kubernetes
does not need it: its probes call /healthz and /readyz directly.`,
		Example: `  tollgate healthcheck --url http://127.0.0.1:8080/readyz
  tollgate healthcheck --url https://127.0.0.1:8443/healthz --insecure`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return err
			}
			transport := http.DefaultTransport.(*http.Transport).Clone()
			if insecure {
				// The probe runs in the server's own container and talks
				// to it over loopback, where the certificate names the
				// public host, not 127.0.0.1.
				transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
			}
			resp, err := (&http.Client{Transport: transport}).Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s answered %s", target, resp.Status)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "url", "http://127.0.0.1:8080/readyz", "the endpoint to GET")
	f.DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	f.BoolVar(&insecure, "insecure", false, "do not verify an https server's certificate (a probe of its own container)")
	return cmd
}
