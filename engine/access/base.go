package access

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

// GitPrefix starts a base that is a revision of the current repository.
const GitPrefix = "git:"

// BaseSources reads the configuration a plan compares against, from spec:
//
//   - "git:REF": the configDir and policiesDir folders as they are at REF
//     (a branch, tag or commit) in the git repository of the working
//     directory, read with git archive, never touching the work tree or
//     the index. Problems name the files REF:path, as git show does.
//   - a bundle file, as tollgate bundle build writes it, whose signature v
//     must verify when v is not nil;
//   - a folder holding config/ and policies/ (a checkout of the base).
//
// configDir and policiesDir are the proposed configuration's folders, so
// that a repository keeping them elsewhere than config/ and policies/
// compares like with like.
func BaseSources(ctx context.Context, spec, configDir, policiesDir string, v *bundle.Verifier) (reload.Sources, error) {
	if ref, ok := strings.CutPrefix(spec, GitPrefix); ok {
		return gitSources(ctx, ref, configDir, policiesDir)
	}
	info, err := os.Stat(spec)
	if err != nil {
		return reload.Sources{}, fmt.Errorf("base: %w", err)
	}
	if !info.IsDir() {
		b, err := bundle.ReadVerified(spec, v)
		if err != nil {
			return reload.Sources{}, fmt.Errorf("base: %w", err)
		}
		return reload.Sources{ConfigFiles: b.Files.Config, PolicyFiles: b.Files.Policies, Data: b.Files.Data}, nil
	}
	return reload.Sources{ConfigDir: filepath.Join(spec, "config"), PoliciesDir: filepath.Join(spec, "policies")}, nil
}

// gitSources extracts the two folders at ref into a temporary directory
// and reads them there with the very readers serve uses, so that a base
// sees exactly the files a checkout of ref would serve.
func gitSources(ctx context.Context, ref, configDir, policiesDir string) (reload.Sources, error) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return reload.Sources{}, fmt.Errorf("base: %q is not a git revision", GitPrefix+ref)
	}
	top, err := git(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return reload.Sources{}, fmt.Errorf("base %s%s: not in a git repository: %w", GitPrefix, ref, err)
	}
	root := strings.TrimSpace(string(top))
	// Resolve the revision first, so that a bad one is said plainly.
	commit, err := git(ctx, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return reload.Sources{}, fmt.Errorf("base %s%s: no such revision in the repository at %s", GitPrefix, ref, root)
	}
	relConfig, err := inRepository(root, configDir)
	if err != nil {
		return reload.Sources{}, err
	}
	relPolicies, err := inRepository(root, policiesDir)
	if err != nil {
		return reload.Sources{}, err
	}
	tmp, err := os.MkdirTemp("", "tollgate-plan-base-")
	if err != nil {
		return reload.Sources{}, fmt.Errorf("base: %w", err)
	}
	defer os.RemoveAll(tmp)
	archive, err := git(ctx, "-C", root, "archive", "--format=tar", strings.TrimSpace(string(commit)), "--", relConfig, relPolicies)
	if err != nil {
		return reload.Sources{}, fmt.Errorf("base %s%s: %w", GitPrefix, ref, err)
	}
	if err := untar(bytes.NewReader(archive), tmp); err != nil {
		return reload.Sources{}, fmt.Errorf("base %s%s: %w", GitPrefix, ref, err)
	}
	config, err := hclconf.ReadDir(filepath.Join(tmp, relConfig))
	if err != nil {
		return reload.Sources{}, fmt.Errorf("base %s%s: %w", GitPrefix, ref, err)
	}
	policies, err := policy.ReadDir(filepath.Join(tmp, relPolicies))
	if err != nil {
		return reload.Sources{}, fmt.Errorf("base %s%s: %w", GitPrefix, ref, err)
	}
	rename := func(files map[string][]byte) map[string][]byte {
		out := make(map[string][]byte, len(files))
		for name, body := range files {
			rel, _ := filepath.Rel(tmp, name)
			out[ref+":"+filepath.ToSlash(rel)] = body
		}
		return out
	}
	return reload.Sources{ConfigFiles: rename(config), PolicyFiles: rename(policies)}, nil
}

// inRepository is dir as a path inside the repository at root.
func inRepository(root, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	// The repository root comes from git with symbolic links resolved;
	// the folder must be compared the same way.
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	if resolved, err := filepath.EvalSymlinks(root); err == nil {
		root = resolved
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("base: %s is outside the git repository at %s", dir, root)
	}
	return filepath.ToSlash(rel), nil
}

func git(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, err
	}
	return out, nil
}

// untar writes the regular files of a git archive under dir. The archive
// comes from git, but its names are the repository's, so each is checked
// to stay under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q leaves the folder", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
