package main

import (
	"fmt"
	"os"
	"strings"

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
		Long: `Write a new private signing key as a JWK file (mode 0600) into --out. Serve
with --keys DIR: the newest key signs, every key in the folder is published in
the JWKS, so add the new key first and remove the old one once its tokens
have expired.`,
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
	cmd.AddCommand(generate, newKeysPublicCommand())
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
