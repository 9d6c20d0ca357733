# A policy that compiles but sets a reserved claim: every decision that
# allows is malformed, so serve refuses to start with it, and so must check.
package tollgate.token

default decision := {"allow": false}

decision := {
	"allow": true,
	"audience": [input.client.id],
	"claims": {"sub": "someone-else"},
} if input.request.audience == []
