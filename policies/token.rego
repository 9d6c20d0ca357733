# The token decision: data.tollgate.token.decision, evaluated by the server
# for every token request.
#
# It allows a request only when every requested audience names a server
# (else invalid_target), the client may reach each of them, as itself or as
# the account it impersonates (else unauthorized_client), and every
# requested scope is granted by every requested server (else
# invalid_scope). A denial lists every problem in reasons; its error is the
# first of invalid_target, unauthorized_client, invalid_scope that applies.
#
# Values a caller sent (audiences, scopes) are quoted in reasons and
# descriptions only up to max_quoted characters, so an answer or an audit
# line never grows with what the caller sends.
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
# an audience need no condition of their own: only OpenID scopes are
# grantable then (see scope.grantable).
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

# The longest prefix of a caller's value that a message quotes.
max_quoted := 64

# quoted is s in double quotes, cut to max_quoted characters.
quoted(s) := sprintf("%q", [s]) if {
	count(s) <= max_quoted
} else := sprintf("%q...", [substring(s, 0, max_quoted)])

# Requested audiences that name no server.
target_problems contains sprintf("audience %s names no server", [quoted(value)]) if {
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

# Without an audience, only OpenID scopes: any other needs a server.
scope_problems contains sprintf("scope %s needs an audience: a token for the client itself carries only OpenID scopes (%s)", [quoted(s), concat(" ", sort(scope.openid_scopes))]) if {
	audience.self
	some s in scope.not_grantable
}

# A scope that none of the requested servers has.
scope_problems contains sprintf("no requested server defines scope %s", [quoted(s)]) if {
	some s in scope.undefined
}

# A scope that some requested servers define but another does not: the
# token would be for that one too (SPEC §4).
scope_problems contains sprintf("server %s does not define scope %s, and the token would be for it too", [id, quoted(s)]) if {
	some s in scope.not_grantable
	not audience.self
	not s in scope.undefined
	some id in audience.requested_ids
	not s in input.servers[id].scopes
}

# A scope a server defines but the client may not get there (a server it
# cannot reach at all is said above).
scope_problems contains sprintf("client %s may not get scope %s from server %s", [input.client.id, quoted(s), id]) if {
	some s in scope.not_grantable
	some id in audience.requested_ids
	s in input.servers[id].scopes
	input.client.reach[id]
	not s in input.client.reach[id].scopes
}

# ...or the client may, but not the account it acts as.
scope_problems contains sprintf("account %s may not get scope %s from server %s (client %s acts as it)", [input.account.id, quoted(s), id, input.client.id]) if {
	impersonation.impersonating
	some s in scope.not_grantable
	some id in audience.requested_ids
	s in input.servers[id].scopes
	s in input.client.reach[id].scopes
	input.account.reach[id]
	not s in input.account.reach[id].scopes
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

# Every problem, those behind the error code first.
deny_reasons := array.concat(array.concat(sort(target_problems), sort(client_problems)), sort(scope_problems))

# The client is told the first few problems; the audit line has them all.
max_described := 4

error_description := concat("; ", deny_reasons) if {
	count(deny_reasons) <= max_described
} else := sprintf("%s; and %d more", [concat("; ", array.slice(deny_reasons, 0, max_described)), count(deny_reasons) - max_described])

deny_decision := {
	"allow": false,
	"error": error_code,
	"error_description": error_description,
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
