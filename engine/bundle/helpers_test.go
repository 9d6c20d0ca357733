package bundle_test

import (
	"github.com/tollgate-dev/tollgate/engine/bundle"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

// sourcesOf is what serve and the CLI load from a bundle's files.
func sourcesOf(f bundle.Files) reload.Sources {
	return reload.Sources{ConfigFiles: f.Config, PolicyFiles: f.Policies, Data: f.Data}
}
