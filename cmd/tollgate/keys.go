package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/engine/assertion"
	"github.com/tollgate-dev/tollgate/engine/token"
)

func newKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage token signing keys",
	}
	var alg, out string
	generate := &cobra.Command{
		Use:   "generate --alg ES256|EdDSA|RS256|PS256 --out DIR",
		Short: "Write a new signing key as a JWK file",
		Long: `Write a new private signing key as a JWK file (mode 0600) into --out: a
private_key_jwt client's key, or the first key of a server's --keys folder. A
key written here signs as soon as a server reads it; to change the key of a
running server, use "tollgate keys rotate", which publishes the new key before
it signs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := token.GenerateKey(alg)
			if err != nil {
				return err
			}
			path, err := token.WriteKeyFile(out, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s key %s to %s\n", alg, key.KeyID(), path)
			return nil
		},
	}
	generate.Flags().StringVar(&alg, "alg", "ES256", "ES256, EdDSA, RS256 or PS256")
	generate.Flags().StringVar(&out, "out", "", "folder to write the key file into (required)")
	_ = generate.MarkFlagRequired("out")
	cmd.AddCommand(generate, newKeysRotateCommand(), newKeysPublicCommand())
	return cmd
}

func newKeysRotateCommand() *cobra.Command {
	opts := token.RotateOptions{}
	var dir string
	cmd := &cobra.Command{
		Use:   "rotate --keys DIR [--alg A] [--publish-ahead D] [--retire-after D]",
		Short: "Add the next signing key, published before it signs; retire the old one",
		Long: `Add the next signing key to the --keys folder of running servers, without a
restart. The new key is published in the JWKS at once but signs only after
--publish-ahead (it must exceed how long resource servers cache the JWKS: the
JWKS says max-age=300 by default, and some caches keep it longer). The keys of
the same algorithm it replaces are marked to leave the JWKS --retire-after the
new key starts to sign (at least max_token_ttl, so every token they signed has
expired by then), and the files of keys already retired are deleted. In a
folder with no key, the new key signs at once.

Every time is written into the key files (the private JWK members nbf and
exp), so every replica serving the folder signs with the same key at the same
moment and publishes the same keys. Servers re-read the folder when a file in
it changes, or on SIGHUP.`,
		Example: `  tollgate keys rotate --keys /etc/tollgate/keys
  tollgate keys rotate --keys ./keys --alg EdDSA --publish-ahead 2h --retire-after 25h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := token.Rotate(dir, opts)
			out := cmd.OutOrStdout()
			if r != nil {
				fmt.Fprintf(out, "wrote %s key %s to %s; it signs from %s\n", r.Alg, r.KeyID, r.Path, r.SignsFrom.UTC().Format(time.RFC3339))
				for _, k := range r.Retiring {
					fmt.Fprintf(out, "key %s leaves the JWKS at %s\n", k.KeyID, k.RetireAt.UTC().Format(time.RFC3339))
				}
				for _, path := range r.Removed {
					fmt.Fprintf(out, "removed retired key file %s\n", path)
				}
			}
			if err == nil && len(r.Retiring) > 0 && opts.PublishAhead <= token.JWKSMaxAge {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: --publish-ahead %s does not exceed the JWKS max-age (%s): resource servers may see tokens of the new key before its public key\n", opts.PublishAhead, token.JWKSMaxAge)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "keys", "", "the servers' --keys folder (required)")
	f.StringVar(&opts.Alg, "alg", "", "ES256, EdDSA, RS256 or PS256; default: that of the newest key, ES256 in an empty folder")
	f.DurationVar(&opts.PublishAhead, "publish-ahead", token.DefaultPublishAhead, "how long the new key is published before it signs")
	f.DurationVar(&opts.RetireAfter, "retire-after", token.DefaultRetireAfter, "how long the replaced keys stay published once the new key signs (at least max_token_ttl)")
	_ = cmd.MarkFlagRequired("keys")
	return cmd
}

func newKeysPublicCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "public FILE",
		Short: "Print the public_key block that declares a client's key",
		Long: `Read a private key (a JWK file, as "tollgate keys generate" writes, or PEM)
and print the public_key block that declares its public half, to paste into
a private_key_jwt client. The private key stays with the client: the client
signs its assertions with it ("tollgate token --key FILE" does that).`,
		Example: `  tollgate keys generate --alg ES256 --out ./batch-job-key
  tollgate keys public ./batch-job-key/*.jwk.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			pub, err := assertion.PublicPEM(src)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			indented := "      " + strings.ReplaceAll(strings.TrimSpace(pub), "\n", "\n      ")
			fmt.Fprintf(cmd.OutOrStdout(), "public_key {\n  pem = <<-EOT\n%s\n  EOT\n}\n", indented)
			return nil
		},
	}
}
