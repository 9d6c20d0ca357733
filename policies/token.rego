# The token decision: data.tollgate.token.decision, evaluated by the server
# for every token request.
#
# It allows a request only when every requested audience names a server
# (else invalid_target), the client may reach each of them, as itself or as
# the account it impersonates (else unauthorized_client), and every
# requested scope is granted (else invalid_scope). A denial lists every
# problem in reasons; its error is the first of invalid_target,
# unauthorized_client, invalid_scope that applies.
package tollgate.token

import data.tollgate.audience
import data.tollgate.impersonation
import data.tollgate.scope

default decision := {
	"allow": false,
	"error": "unauthorized_client",
	"error_description": "the policy reached no decision",
	"reasons": ["the policy reached no decision"],
}

decision := allow_decision if {
	allow
} else := deny_decision

# Allowed only when every condition below holds. The problem sets further
# down say why a request is denied; they are worked out only for a denial,
# so an allowed request pays for none of their messages. Their conditions
# mirror these (tests check both sides of each). Scopes requested without
# an audience need no condition of their own: no server is requested, so
# none of them is grantable.
default allow := false

allow if {
	audience.unknown == set()
	not input.client.disabled
	impersonation_ok
	scope.unreachable == set()
	scope.not_grantable == set()
}

# A client that impersonates nobody needs no impersonation check.
impersonation_ok := impersonation.valid if {
	impersonation.impersonating
} else := true

# Scopes need a server to hold them.
scopes_without_audience if {
	audience.self
	count(input.request.scope) > 0
}

# Requested audiences that name no server.
target_problems contains sprintf("audience %q names no server", [value]) if {
	some value in audience.unknown
}

# A disabled client gets nothing (the server refuses it before this too).
client_problems contains sprintf("client %s is disabled", [input.client.id]) if input.client.disabled

# An impersonation that is not valid gets nothing.
client_problems contains sprintf("client %s may not impersonate: %s", [input.client.id, problem]) if {
	some problem in impersonation.problems
}

# A requested server the client cannot reach.
client_problems contains sprintf("client %s has no access to server %s", [input.client.id, id]) if {
	some id in scope.unreachable
	not input.client.reach[id]
}

# A requested server the client reaches but the impersonated account does not.
client_problems contains sprintf("account %s has no access to server %s (client %s acts as it)", [input.account.id, id, input.client.id]) if {
	some id in scope.unreachable
	input.client.reach[id]
}

scope_problems contains "scopes were requested without an audience" if scopes_without_audience

scope_problems contains sprintf("scope %q is not granted by the requested servers", [s]) if {
	not audience.self
	some s in scope.not_grantable
}

error_code := "invalid_target" if count(target_problems) > 0

error_code := "unauthorized_client" if {
	count(target_problems) == 0
	count(client_problems) > 0
}

error_code := "invalid_scope" if {
	count(target_problems) == 0
	count(client_problems) == 0
	count(scope_problems) > 0
}

deny_reasons := sort(((target_problems | client_problems) | scope_problems))

deny_decision := {
	"allow": false,
	"error": error_code,
	"error_description": concat("; ", deny_reasons),
	"reasons": deny_reasons,
}

# Granted audience values: the servers' audiences, or the client itself.
granted_audience := [input.client.id] if {
	audience.self
} else := [input.servers[id].audience | some id in audience.requested_ids]

allow_decision := object.union(
	{
		"allow": true,
		"audience": granted_audience,
		"scope": scope.granted,
		"subject": impersonation.subject,
		"claims": {},
		"reasons": sort(allow_reasons),
	},
	ttl,
)

# The client's own token_ttl, when it has one; the server caps it.
ttl := {"ttl": input.client.token_ttl} if {
	input.client.token_ttl > 0
} else := {}

allow_reasons contains sprintf("no audience requested: the token is for client %s itself", [input.client.id]) if audience.self

# Each route that gives the client, or the account it acts as, a requested
# server: "its own access" or "group <id>".
allow_reasons contains sprintf("client %s reaches %s through %s", [input.client.id, id, via]) if {
	some id in audience.requested_ids
	some via in input.client.reach[id].via
}

allow_reasons contains sprintf("client %s acts as account %s, which reaches %s through %s", [input.client.id, input.account.id, id, via]) if {
	impersonation.valid
	some id in audience.requested_ids
	some via in input.account.reach[id].via
}
