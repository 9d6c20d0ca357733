package main

import (
	"fmt"

	"github.com/spf13/cobra"

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
	cmd.AddCommand(generate)
	return cmd
}
