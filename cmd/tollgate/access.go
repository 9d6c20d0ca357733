package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/engine/access"
)

func newAccessCommand() *cobra.Command {
	var sources sourceFlags
	var client, format string
	cmd := &cobra.Command{
		Use:   "access [--client ID] [--format text|json|markdown|mermaid|dot]",
		Short: "Print the effective access: every token each client can get",
		Long: `Print the effective access of a configuration: for each client, each
server it can get a token for (and the token for itself, with no audience),
with the scopes, subject, act, lifetime and the route that gives it ("its own
access", "group G", "account A through group G" when it impersonates).

It loads everything as serve does and asks the real policies, once per
client and server, for the token with no scope requested, which is
everything the client may get there: rules of your own show. Servers no
declaration of the client (or of the account it acts as) names are not
asked about.

Formats: text (a table), json ({"entries": [...]}, sorted by client then
server), markdown (a table), mermaid and dot (a picture of who reaches what;
tokens a client gets for itself are left out).`,
		Example: `  tollgate access
  tollgate access --client report-cli --format json
  tollgate access --bundle bundles/tollgate.tar.gz --format mermaid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer batchGC()()
			if !slices.Contains(access.TableFormats, format) {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(access.TableFormats, ", "))
			}
			src, _, err := sources.load(cmd)
			if err != nil {
				return err
			}
			table, err := access.Load(cmd.Context(), src)
			if err != nil {
				return reportLoad(cmd.ErrOrStderr(), err)
			}
			if client != "" {
				var declared bool
				if table, declared = table.ForClient(client); !declared {
					return fmt.Errorf("no client %q is declared", client)
				}
			}
			return access.WriteTable(cmd.OutOrStdout(), table, format)
		},
	}
	sources.add(cmd)
	f := cmd.Flags()
	f.StringVar(&client, "client", "", "show this client only")
	f.StringVar(&format, "format", "text", "output format: "+strings.Join(access.TableFormats, ", "))
	return cmd
}

// reportLoad prints why a configuration did not load, as check does, and
// makes it exit status 1.
func reportLoad(w io.Writer, err error) error {
	return report(w, nil, nil, err, false)
}

// batchGC makes the garbage collector run less often until the returned
// function is called, for a batch command (check, access, plan) that
// holds a whole configuration and decides every client's requests: each
// decision leaves only garbage, and with the default setting the
// collector rescans the configuration every few hundred decisions. The
// command is short-lived, so its larger heap is too. A GOGC set in the
// environment, which the runtime has read, is left alone.
func batchGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	previous := debug.SetGCPercent(400)
	return func() { debug.SetGCPercent(previous) }
}
