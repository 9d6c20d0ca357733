// Package reload loads and reloads configurations: sources (folders,
// in-memory files, bundles) → parse → validate → store → compile →
// build the snapshot → self-test (every client's requests decided) →
// swap into the authz.Service. Check and Load are the one-shot forms that
// `tollgate check`, `eval`, `access` and tests run; a Reloader is the
// one owner of a server's reloads and of the state they share.
package reload
