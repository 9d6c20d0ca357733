package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tollgate-dev/tollgate/engine/decide"
	"github.com/tollgate-dev/tollgate/engine/reload"
)

// evalOutput is what `tollgate eval` prints: the policy's decision, with
// the lifetime and actor tollgate derives from it.
type evalOutput struct {
	Allow            bool              `json:"allow"`
	Audience         []string          `json:"audience,omitempty"`
	Scope            []string          `json:"scope,omitempty"`
	Subject          string            `json:"subject,omitempty"`
	Act              map[string]string `json:"act,omitempty"`
	Claims           map[string]any    `json:"claims,omitempty"`
	TTL              int64             `json:"ttl,omitempty"`
	Error            string            `json:"error,omitempty"`
	ErrorDescription string            `json:"error_description,omitempty"`
	Reasons          []string          `json:"reasons"`
}

func newEvalCommand() *cobra.Command {
	var sources sourceFlags
	var req decide.EvalRequest
	var scope, authMethod string
	var failOnDeny bool
	cmd := &cobra.Command{
		Use:   "eval --client ID [--audience A]... [--scope \"S1 S2\"]",
		Short: "Decide a token request offline and print the decision as JSON",
		Long: `Run the policy decision for a token request as the server would after the
client authenticated, with no server and no secret, and print the decision as
JSON with its reasons. ttl is the lifetime after the servers' and settings'
caps; act is set when the token's subject is not the client. With --bundle,
it decides with the declarations and policies of a built bundle.`,
		Example: `  tollgate eval --client gift-deliveries --audience https://api.worldmappers.example --scope read:directions
  tollgate eval --client Client1 --scope Server2
  tollgate eval --bundle bundles/tollgate.tar.gz --client client1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, _, err := sources.load(cmd)
			if err != nil {
				return err
			}
			snap, err := reload.Load(cmd.Context(), src, reload.NewKDFCache())
			if err != nil {
				return err
			}
			req.Scope = strings.Fields(scope)
			req.AuthMethod = authMethod
			req.Time = time.Now()
			evaluation, err := snap.Evaluate(cmd.Context(), &req)
			if err != nil {
				return err
			}
			d := evaluation.Decision
			out := evalOutput{
				Allow: d.Allow, Audience: d.Audience, Scope: d.Scope, Subject: d.Subject, Claims: d.Claims,
				Error: d.Error, ErrorDescription: d.ErrorDescription, Reasons: d.Reasons,
				TTL: int64(evaluation.TTL / time.Second),
			}
			if d.Allow && out.Subject == "" {
				out.Subject = req.ClientID
			}
			if evaluation.Actor != "" {
				out.Act = map[string]string{"sub": evaluation.Actor}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				return err
			}
			if failOnDeny && !d.Allow {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	sources.add(cmd)
	f := cmd.Flags()
	f.StringVar(&req.ClientID, "client", "", "client_id of the requesting client (required)")
	f.StringArrayVar(&req.Audience, "audience", nil, "requested audience or resource; repeatable")
	f.StringVar(&scope, "scope", "", "space-delimited requested scopes")
	f.StringVar(&authMethod, "auth-method", "", "auth method to pretend the client used (default: its declared one)")
	f.BoolVar(&failOnDeny, "fail-on-deny", false, "exit 2 when the decision denies")
	_ = cmd.MarkFlagRequired("client")
	return cmd
}
