package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/engine/secret"
)

func newSecretCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Print a new random client secret and the hash line for HCL",
		Long: `Print a new random client secret of 256 bits and the line to paste into a
secret block. Give the secret to the client; keep only the hash in HCL.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			plain, stored, err := secret.Generate()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "secret: %s\nhash = %q\n", plain, stored)
			return nil
		},
	}
	cmd.AddCommand(newSecretHashCommand())
	return cmd
}

func newSecretHashCommand() *cobra.Command {
	var alg string
	cmd := &cobra.Command{
		Use:   "hash",
		Short: "Read a secret on stdin and print its hash line",
		Long: `Read a secret from the first line of stdin and print the hash line for HCL.
A secret of 43 or more characters (as "tollgate secret" makes) is hashed with
sha256; a shorter one, likely chosen by a person, with argon2id. --alg forces
one of sha256, argon2id or bcrypt.`,
		Example: `  printf '%s' "$CLIENT_SECRET" | tollgate secret hash`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("no secret on stdin")
			}
			plain := strings.TrimRight(line, "\r\n")
			if plain == "" {
				return errors.New("the secret is empty")
			}
			if alg == "" {
				alg = "argon2id"
				if len(plain) >= 43 {
					alg = "sha256"
				}
			}
			var stored string
			switch alg {
			case "sha256":
				stored = secret.SHA256Hash(plain)
			case "argon2id":
				stored, err = secret.Argon2idHash(plain)
			case "bcrypt":
				stored, err = secret.BcryptHash(plain)
			default:
				return fmt.Errorf("--alg %q: want sha256, argon2id or bcrypt", alg)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "hash = %q\n", stored)
			return nil
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "", "sha256, argon2id or bcrypt (default: by the secret's length)")
	return cmd
}
