//go:build !unix

package state

import (
	"fmt"
	"os"
)

// lockDir opens the lock file; without flock, one server per data dir is
// the operator's to ensure.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return f, nil
}
