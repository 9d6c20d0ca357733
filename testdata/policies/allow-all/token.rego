# A minimal alternative policy: grants whatever is asked. Tests use it to
# show that policies are pluggable; never serve it.
package tollgate.token

decision := {
	"allow": true,
	"audience": audience,
	"scope": input.request.scope,
	"reasons": ["allow-all test policy"],
}

audience := input.request.audience if count(input.request.audience) > 0

audience := [input.client.id] if count(input.request.audience) == 0
