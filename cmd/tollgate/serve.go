package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/engine/serve"
	"github.com/tollgate-dev/tollgate/engine/token"
)

func newServeCommand() *cobra.Command {
	cfg := serve.Config{Watch: true}
	var trustedProxies []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server",
		Long: `Run the authorization server on --addr with the declarations in --config and
the policies in --policies, or with those of a --bundle file (tollgate bundle
build). It logs "listening on URL" once it accepts connections, and with
--metrics-addr "metrics on URL" for the Prometheus metrics, which the public
address never serves. SIGHUP, or a change to a .hcl or .rego file (or to
the bundle file, e.g. a new one renamed over it), reloads everything; a
configuration that does not load is logged and the last good one keeps
serving. So do the signing keys: SIGHUP or a change in --keys re-reads them
(see "tollgate keys rotate"). SIGTERM and SIGINT drain in-flight requests
and exit 0.

--bundle may be the http:// or https:// URL of a bundle on any static host
(nginx, S3): it is polled every --bundle-poll with If-None-Match, and a new
bundle is loaded as a reload is. --bundle-cache keeps the last good one, so a
start while the bundle server is away serves it. With --verification-key only
signed bundles (tollgate bundle build --signing-key, or OPA's) load. See
docs/bundles.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			use, err := useBundle(cmd)
			if err != nil {
				return err
			}
			if use {
				cfg.ConfigDir, cfg.PoliciesDir = "", ""
			} else {
				cfg.Bundle = ""
			}
			if cfg.VerificationKey, err = verificationKey(cmd, use); err != nil {
				return err
			}
			if cfg.BundleCache, err = bundleOnly(cmd, "bundle-cache", use); err != nil {
				return err
			}
			if cfg.TrustedProxies, err = serve.ParseTrustedProxies(trustedProxies); err != nil {
				return fmt.Errorf("--trusted-proxies: %w", err)
			}
			return serve.Run(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ConfigDir, "config", "./config", "folder of HCL declarations (*.hcl, merged)")
	f.StringVar(&cfg.PoliciesDir, "policies", "./policies", "folder of Rego policies (*_test.rego ignored)")
	f.StringVar(&cfg.Bundle, "bundle", "", "bundle file (tollgate bundle build), or http(s):// URL of one on a bundle server, to serve instead of --config and --policies")
	f.DurationVar(&cfg.BundlePoll, "bundle-poll", serve.DefaultBundlePoll, "how often to poll a --bundle URL (each replica a random 0-25% sooner; failed polls back off up to 5m)")
	f.StringVar(&cfg.BundleCache, "bundle-cache", "", "folder to keep the last good bundle from a --bundle URL in, to start from while the server is away")
	addVerificationKeyFlag(cmd, &cfg.VerificationKey)
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "listen address; port 0 picks a free port")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve /metrics on this second address (plain HTTP, for the scraper); the public --addr never serves it")
	f.StringVar(&cfg.KeysDir, "keys", "", "folder of JWK signing keys (tollgate keys rotate), re-read on change; default: an ephemeral key")
	f.DurationVar(&cfg.JWKSMaxAge, "jwks-max-age", token.JWKSMaxAge, "Cache-Control max-age of the JWKS; keep it below keys rotate --publish-ahead")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve HTTPS")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&cfg.ClientCA, "client-ca", "", "PEM CA bundle: request and verify TLS client certificates (mTLS)")
	f.StringVar(&cfg.AuditLog, "audit-log", "", "append audit JSON lines to this file instead of stderr")
	f.BoolVar(&cfg.Watch, "watch", true, "reload when a file under --config, --policies or --keys, or the --bundle file, changes")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to drain in-flight requests on SIGTERM")
	f.StringVar(&cfg.DataDir, "data-dir", "", "folder to keep revocations and used client assertion ids in, so they survive a restart (one server per folder); default: memory only")
	f.StringSliceVar(&trustedProxies, "trusted-proxies", nil, "CIDR,...: reverse proxies whose X-Forwarded-For (or Forwarded) names the client's address, for throttling and the audit log")
	f.StringVar(&cfg.State, "state", "memory", "where revocations, used client assertion ids, rate limits and failed-authentication throttles live: memory (this process), or redis://HOST:PORT or rediss://... shared by every replica (docs/fleet.md)")
	f.DurationVar(&cfg.ShutdownDelay, "shutdown-delay", 0, "after SIGTERM, keep serving this long with /readyz failing before closing the listener")
	return cmd
}
