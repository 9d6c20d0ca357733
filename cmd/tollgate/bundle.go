package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

func newBundleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Build bundles: declarations and policies in one file to deploy",
	}
	var configDir, policiesDir, dataFile, out, signingKey string
	var signing bundle.SigningOptions
	var snippets bool
	build := &cobra.Command{
		Use:   "build [--config DIR] [--policies DIR] [--data FILE] [--out PATH] [--signing-key FILE]",
		Short: "Validate declarations and policies, then pack them into a bundle file",
		Long: `Validate everything exactly as "tollgate check" does and, only if it all
loads, pack the HCL files of --config, the policies of --policies (not the
*_test.rego files) and the optional JSON object of --data into one .tar.gz
bundle at --out. The bundle is a valid OPA bundle (opa inspect, opa eval -b
work on it) whose revision is the SHA-256 of its contents: the same inputs
give a byte-identical file. Serve it with "tollgate serve --bundle PATH".

With --signing-key (a PEM RSA or ECDSA private key) the bundle is signed in
OPA's format: a .signatures.json whose JWT lists every file with its SHA-256
digest, so "serve --verification-key" (and "opa run --verification-key")
accept it only whole and unchanged. See docs/bundles.md.

On any problem it prints FILE:LINE:COL: message per problem, writes nothing,
and exits 1. The file is replaced atomically, so a server watching it never
reads half of it.`,
		Example: `  tollgate bundle build --out bundles/tollgate.tar.gz
  tollgate serve --bundle bundles/tollgate.tar.gz
  tollgate bundle build --signing-key bundle-signing.pem --out bundles/tollgate.tar.gz
  tollgate serve --bundle https://bundles.example/tollgate.tar.gz --verification-key bundle-signing.pub.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var signer *bundle.Signer
			if signingKey != "" {
				var err error
				if signer, err = bundle.LoadSigner(signingKey, signing); err != nil {
					return err
				}
			} else if signing != (bundle.SigningOptions{}) {
				return fmt.Errorf("--signing-alg, --signing-key-id and --claims-file need --signing-key")
			}
			src, err := bundle.ReadDirs(configDir, policiesDir, dataFile)
			if err != nil {
				return err
			}
			warnings, files, err := reload.Check(cmd.Context(), filesSources(src))
			if err := report(cmd.OutOrStdout(), warnings, files, err, snippets); err != nil {
				return err
			}
			if signer == nil {
				revision, err := bundle.WriteFile(out, src)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (revision %s)\n", out, revision)
				return nil
			}
			revision, err := bundle.WriteFileSigned(out, src, signer)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (revision %s), signed %s with key %s\n", out, revision, signer.Alg(), signer.Verifier().Fingerprint())
			return nil
		},
	}
	f := build.Flags()
	f.StringVar(&configDir, "config", "./config", "folder of HCL declarations")
	f.StringVar(&policiesDir, "policies", "./policies", "folder of Rego policies (*_test.rego left out)")
	f.StringVar(&dataFile, "data", "", "JSON object to ship as the bundle's data.json (the root of data)")
	f.StringVar(&out, "out", "bundles/tollgate.tar.gz", "bundle file to write")
	f.BoolVar(&snippets, "snippets", false, "show the source line under each HCL problem")
	f.StringVar(&signingKey, "signing-key", "", "PEM private key (RSA or ECDSA) to sign the bundle with, in OPA's .signatures.json format")
	f.StringVar(&signing.Alg, "signing-alg", "", "signature algorithm: RS256, RS384, RS512, PS256, PS384, PS512 for RSA; ES256, ES384, ES512 for P-256, P-384, P-521 (default: RS256, or the key's curve)")
	f.StringVar(&signing.KeyID, "signing-key-id", "", "kid of the signature, for an OPA that picks its key by kid (default \""+bundle.DefaultSigningKeyID+"\", as opa build)")
	f.StringVar(&signing.ClaimsFile, "claims-file", "", "JSON object of extra claims for the signature (iss, ...), as opa build --claims-file")
	cmd.AddCommand(build)
	return cmd
}

// sourceFlags are --config, --policies, --bundle and --verification-key:
// where check and eval read a configuration from.
type sourceFlags struct {
	configDir, policiesDir, bundle, verificationKey string
}

func (s *sourceFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.configDir, "config", "./config", "folder of HCL declarations")
	f.StringVar(&s.policiesDir, "policies", "./policies", "folder of Rego policies")
	f.StringVar(&s.bundle, "bundle", "", "bundle file (tollgate bundle build) to use instead of --config and --policies")
	addVerificationKeyFlag(cmd, &s.verificationKey)
}

// addVerificationKeyFlag adds --verification-key, the same for every
// command that reads bundles.
func addVerificationKeyFlag(cmd *cobra.Command, key *string) {
	cmd.Flags().StringVar(key, "verification-key", "", "PEM public key: accept only bundles signed with its private key, every file covered (OPA's .signatures.json)")
}

// load reads the sources: the bundle file if --bundle chose it (then b is
// the bundle, its signature checked with --verification-key), else the
// folders.
func (s *sourceFlags) load(cmd *cobra.Command) (src reload.Sources, b *bundle.Bundle, err error) {
	use, err := useBundle(cmd)
	if err != nil {
		return reload.Sources{}, nil, err
	}
	key, err := verificationKey(cmd, use)
	if err != nil || !use {
		return reload.Sources{ConfigDir: s.configDir, PoliciesDir: s.policiesDir}, nil, err
	}
	if bundle.IsURL(s.bundle) {
		return reload.Sources{}, nil, fmt.Errorf("%s reads a bundle file; download %s first, or serve it", cmd.Name(), bundle.Redact(s.bundle))
	}
	var v *bundle.Verifier
	if key != "" {
		if v, err = bundle.LoadVerifier(key); err != nil {
			return reload.Sources{}, nil, err
		}
	}
	if b, err = bundle.ReadVerified(s.bundle, v); err != nil {
		return reload.Sources{}, nil, err
	}
	return filesSources(b.Files), b, nil
}

// verificationKey is the --verification-key to check bundles with (see
// bundleOnly).
func verificationKey(cmd *cobra.Command, useBundle bool) (string, error) {
	return bundleOnly(cmd, "verification-key", useBundle)
}

// bundleOnly is the value of a flag that only applies to bundles
// (--verification-key, --bundle-cache). With the folders it is an error,
// unless it came from the environment (TOLLGATE_VERIFICATION_KEY, set
// for a fleet's bundles) and the command line chose the folders over
// TOLLGATE_BUNDLE: then it is left out.
func bundleOnly(cmd *cobra.Command, name string, useBundle bool) (string, error) {
	f := cmd.Flags().Lookup(name)
	if f == nil || f.Value.String() == "" {
		return "", nil
	}
	if useBundle {
		return f.Value.String(), nil
	}
	if fromEnvironment(f) {
		return "", nil
	}
	return "", fmt.Errorf("%s applies to bundles: give a --bundle, or leave it out with the folders", flagSource(f))
}

// useBundle reports whether --bundle chooses the sources. --bundle excludes
// --config and --policies. As for every flag, the command line wins over
// the environment: TOLLGATE_BUNDLE gives way to --config, and --bundle to
// TOLLGATE_CONFIG. Both from the same place is an error.
func useBundle(cmd *cobra.Command) (bool, error) {
	b := cmd.Flags().Lookup("bundle")
	if b == nil || b.Value.String() == "" {
		return false, nil
	}
	for _, name := range []string{"config", "policies"} {
		dir := cmd.Flags().Lookup(name)
		if dir == nil || !dir.Changed {
			continue
		}
		if fromEnvironment(dir) == fromEnvironment(b) {
			return false, fmt.Errorf("%s and %s are both given: use either a bundle or the folders", flagSource(b), flagSource(dir))
		}
		if fromEnvironment(b) {
			return false, nil
		}
	}
	return true, nil
}

// envAnnotation marks a flag that flagsFromEnv set from the environment.
const envAnnotation = "tollgate_from_environment"

func fromEnvironment(f *pflag.Flag) bool { return len(f.Annotations[envAnnotation]) > 0 }

// flagSource names a flag as the user gave it: --config or TOLLGATE_CONFIG.
func flagSource(f *pflag.Flag) string {
	if fromEnvironment(f) {
		return f.Annotations[envAnnotation][0]
	}
	return "--" + f.Name
}

// filesSources is what a load reads from a bundle's files.
func filesSources(f bundle.Files) reload.Sources {
	return reload.Sources{ConfigFiles: f.Config, PolicyFiles: f.Policies, Data: f.Data}
}
