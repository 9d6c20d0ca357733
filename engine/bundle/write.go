package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/tollgate-dev/tollgate/engine/hclconf"
	"github.com/tollgate-dev/tollgate/engine/policy"
)

// Write writes src (its Config, Policies and Data) to w as a
// bundle and returns its revision. Files are stored by their base names
// under config/ and policies/; *_test.rego files are left out. The output
// depends only on the contents: names are sorted, times and owners fixed,
// and the revision is the SHA-256 of the names and contents, so the same
// inputs give a byte-identical bundle (with the same Go toolchain's gzip)
// and always the same revision. The written bundle is read back with Parse
// before it is returned, so Write never produces a bundle Read refuses.
func Write(w io.Writer, src Files) (revision string, err error) {
	return write(w, src, nil)
}

// write is Write, signed by signer when it is not nil.
func write(w io.Writer, src Files, signer *Signer) (revision string, err error) {
	files, err := namedFiles(src)
	if err != nil {
		return "", err
	}
	data := src.Data
	if data == nil {
		data = map[string]any{}
	}
	if revision, err = contentRevision(files, data); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}

	roots, modules, err := rootsAndModules(files, data)
	if err != nil {
		return "", err
	}
	manifest := opabundle.Manifest{Revision: revision, Roots: &roots}
	manifest.SetRegoVersion(ast.RegoV1)
	var opaPart bytes.Buffer
	// DisableFormat: the policies go out byte for byte as reviewed, so
	// positions in problems match the files in git.
	if err := opabundle.NewWriter(&opaPart).UseModulePath(true).DisableFormat(true).
		Write(opabundle.Bundle{Manifest: manifest, Data: data, Modules: modules}); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	entries, err := untar(&opaPart)
	if err != nil {
		return "", fmt.Errorf("bundle: re-reading OPA's output: %w", err)
	}
	for name, body := range files {
		if strings.HasPrefix(name, configDir+"/") {
			entries = append(entries, entry{name: name, body: body})
		}
	}

	var check *Verifier
	if signer != nil {
		signature, err := signer.sign(entries)
		if err != nil {
			return "", fmt.Errorf("bundle: signing: %w", err)
		}
		entries = append(entries, signature)
		check = signer.verifier
	}

	var out bytes.Buffer
	if err := writeTarGz(&out, entries); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	if _, err := parse(out.Bytes(), check); err != nil {
		return "", fmt.Errorf("bundle: the bundle would not read back: %w", err)
	}
	if _, err := w.Write(out.Bytes()); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	return revision, nil
}

// namedFiles maps the sources' files to their names in the bundle.
func namedFiles(src Files) (map[string][]byte, error) {
	if len(src.Config) == 0 {
		return nil, errors.New("bundle: no HCL declarations to write")
	}
	if len(src.Policies) == 0 {
		return nil, errors.New("bundle: no Rego policies to write")
	}
	files := map[string][]byte{}
	from := map[string]string{}
	add := func(dir, file string, body []byte) error {
		name := dir + "/" + filepath.Base(file)
		if other, ok := from[name]; ok {
			return fmt.Errorf("bundle: %s and %s would both be %s", other, file, name)
		}
		from[name] = file
		files[name] = body
		return nil
	}
	for _, file := range slices.Sorted(maps.Keys(src.Config)) {
		if err := add(configDir, file, src.Config[file]); err != nil {
			return nil, err
		}
	}
	for _, file := range slices.Sorted(maps.Keys(src.Policies)) {
		if strings.HasSuffix(file, "_test.rego") {
			continue
		}
		if err := add(policiesDir, file, src.Policies[file]); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// rootsAndModules parses the policies for OPA's writer and derives the
// manifest's roots: tollgate, plus the first segment of any other package
// and any other top-level data key, so OPA accepts every policy and datum
// the bundle holds while tollgate's own stay under data.tollgate.
func rootsAndModules(files map[string][]byte, data map[string]any) ([]string, []opabundle.ModuleFile, error) {
	rootSet := map[string]bool{root: true}
	for key := range data {
		rootSet[key] = true
	}
	var modules []opabundle.ModuleFile
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasPrefix(name, policiesDir+"/") {
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, string(files[name]), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, nil, fmt.Errorf("bundle: %w", err)
		}
		if len(m.Package.Path) > 1 {
			if first, ok := m.Package.Path[1].Value.(ast.String); ok {
				rootSet[string(first)] = true
			}
		}
		modules = append(modules, opabundle.ModuleFile{URL: "/" + name, Path: "/" + name, Raw: files[name], Parsed: m})
	}
	return slices.Sorted(maps.Keys(rootSet)), modules, nil
}

// writeTarGz writes entries sorted by name with fixed metadata, each with
// the leading slash OPA uses.
func writeTarGz(w io.Writer, entries []entry) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     "/" + e.name,
			Mode:     0o644,
			Size:     int64(len(e.body)),
			ModTime:  modTime,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(e.body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// WriteFile writes the bundle to path atomically: to a temporary file in
// the same folder, then renamed over path, so a server watching path never
// reads half a bundle. The folder is created if missing.
func WriteFile(path string, src Files) (revision string, err error) {
	return writeFile(path, src, nil)
}

// writeFile is WriteFile, signed by signer when it is not nil.
func writeFile(path string, src Files, signer *Signer) (revision string, err error) {
	var buf bytes.Buffer
	if revision, err = write(&buf, src, signer); err != nil {
		return "", err
	}
	if err := writeAtomic(path, buf.Bytes(), 0o755, 0o644); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	return revision, nil
}

// writeAtomic writes body to path through a temporary file in the same
// folder renamed over path, so a reader sees the old file or the new one,
// never half of either. The folder is created with dirPerm if missing.
func writeAtomic(path string, body []byte, dirPerm, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(body); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadDirs reads what `tollgate bundle build` packs: every *.hcl file of
// configFolder and every policy of policiesFolder, chosen exactly as `serve`
// and `check` choose them (top-level files only; *_test.rego skipped), and
// the optional JSON object in dataPath. Files are keyed by their paths on
// disk, so checking the result with reload.Check names the files to fix;
// Write then stores the very bytes that were checked.
func ReadDirs(configFolder, policiesFolder, dataPath string) (Files, error) {
	config, err := hclconf.ReadDir(configFolder)
	if err != nil {
		return Files{}, err
	}
	policies, err := policy.ReadDir(policiesFolder)
	if err != nil {
		return Files{}, err
	}
	src := Files{Config: config, Policies: policies}
	if dataPath != "" {
		if src.Data, err = readData(dataPath); err != nil {
			return Files{}, err
		}
	}
	return src, nil
}

// readData reads a JSON object for data.json. Numbers stay json.Number,
// as OPA's reader gives them back, so a value survives the round trip
// exactly.
func readData(file string) (map[string]any, error) {
	body, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var data map[string]any
	if err := util.UnmarshalJSON(body, &data); err != nil {
		return nil, fmt.Errorf("data: %s: must be a JSON object: %w", file, err)
	}
	if data == nil {
		return nil, fmt.Errorf("data: %s: must be a JSON object, not null", file)
	}
	return data, nil
}
