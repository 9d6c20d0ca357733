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
#
# Rules of your own (package tollgate.rules, SPEC §7) then act on what the
# defaults would grant (grant, below), never on what was asked: deny
# refuses, withhold drops a scope, claims adds claims, max_ttl shortens
# the lifetime. With none defined they cost a few lookups.
package tollgate.token

import data.tollgate.audience
import data.tollgate.impersonation
import data.tollgate.rules
import data.tollgate.scope

default decision := {
	"allow": false,
	"error": "unauthorized_client",
	"error_description": "the policy reached no decision",
	"reasons": ["the policy reached no decision"],
}

decision := allow_decision if {
	allow
	not rules
} else := ruled_decision if {
	allow
	rule_denials == set()
} else := rules_deny_decision if {
	allow
} else := deny_decision

# Allowed only when every condition below holds. The problem sets further
# down say why a request is denied; they are worked out only for a denial,
# so an allowed request pays for none of their messages. Their conditions
# mirror these (tests check both sides of each). Scopes requested without
# an audience need no condition of their own: only OpenID scopes are
# grantable then (see scope.grantable).
default allow := false

# The token for the client itself with no scope, the usual first request,
# has no audience to look up nor scope to check: the body below would
# find every problem set empty.
allow if {
	input.request.audience == []
	input.request.scope == []
	not input.client.disabled
	impersonation_ok
}

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

# What the client is told of reasons: the first few.
described(reasons) := concat("; ", reasons) if {
	count(reasons) <= max_described
} else := sprintf("%s; and %d more", [concat("; ", array.slice(reasons, 0, max_described)), count(reasons) - max_described])

deny_decision := {
	"allow": false,
	"error": error_code,
	"error_description": described(deny_reasons),
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

# The allowed decision once rules of your own are defined (and none
# denies): with their withholds, claims and max_ttl. Without any rule of
# your own, allow_decision is the decision, and none of this is worked out.
ruled_decision := object.union(
	{
		"allow": true,
		"audience": granted_audience,
		"scope": granted_scope,
		"subject": impersonation.subject,
		"claims": granted_claims,
		"reasons": sort(allow_reasons | rule_reasons),
	},
	ruled_ttl,
)

# The lifetime: at most max_ttl, never longer than the defaults give.
ruled_ttl := {"ttl": min({granted_ttl, max_ttl})} if {
	max_ttl := rules.max_ttl
	is_number(max_ttl)
} else := ttl

# What the default policies would grant, before rules of your own: what
# they see as data.tollgate.token.grant. Its ttl is the lifetime the server
# would give (the client's token_ttl, else default_token_ttl, capped by
# each requested server's token_ttl and by max_token_ttl).
grant := object.union(
	{
		"audience": granted_audience,
		"scope": scope.granted,
		"subject": impersonation.subject,
	},
	grant_ttl,
)

grant_ttl := {"ttl": granted_ttl} if {
	granted_ttl
} else := {}

granted_ttl := min({base_ttl} | ttl_caps)

base_ttl := input.client.token_ttl if {
	input.client.token_ttl > 0
} else := input.settings.default_token_ttl

ttl_caps contains t if {
	some id in audience.requested_ids
	t := input.servers[id].token_ttl
	t > 0
}

ttl_caps contains t if {
	t := input.settings.max_token_ttl
	t > 0
}

# Rules of your own: the scopes they withhold on the servers this request
# names (a token's scopes hold on all of them, so one server's withhold
# drops the scope from the token).
withheld contains w.scope if {
	some w in rules.withhold
	w.server in audience.requested_ids
}

# The granted scopes, without the withheld ones: asking for no scope (all
# of them) cannot bypass a withhold.
granted_scope := scope.granted if {
	withheld == set()
} else := [s | some s in scope.granted; not s in withheld] if {
	scope.granted
}

# The claims of a rule of your own, merged over the defaults' (none).
# Reserved claims are refused by the server (a malformed decision).
default granted_claims := {}

granted_claims := object.union({}, rules.claims)

rule_reasons contains sprintf("scope %s is withheld by a rule of your own", [s]) if {
	some s in scope.granted
	s in withheld
}

rule_reasons contains sprintf("a rule of your own caps the lifetime at %d seconds", [rules.max_ttl]) if {
	is_number(rules.max_ttl)
	rules.max_ttl < granted_ttl
}

# Why rules of your own refuse a request the defaults allow, each with the
# error it carries. A deny message is a string (unauthorized_client) or an
# object {"error", "error_description"}; anything else denies too. A rule
# that is not of the documented shape denies every request, so that a
# typo never leaves a guard off.
rule_denials contains {"error": deny_error(msg), "reason": deny_reason(msg)} if {
	some msg in rules.deny
}

# The error a deny message carries: an object's error, else
# unauthorized_client. (Functions, so that a rule's own message type
# never clashes with the other kinds in type checking.)
deny_error(msg) := msg.error if {
	is_object(msg)
	msg.error
} else := "unauthorized_client"

# Its reason: a string as it is, an object's error_description, else the
# message itself.
deny_reason(msg) := msg if {
	is_string(msg)
	msg != ""
} else := msg.error_description if {
	is_object(msg)
	is_string(msg.error_description)
	msg.error_description != ""
} else := sprintf("denied by a rule of your own: %v", [msg])

# A withheld scope that the request asks for by name: invalid_scope.
rule_denials contains {"error": "invalid_scope", "reason": sprintf("scope %s is withheld by a rule of your own", [quoted(s)])} if {
	some s in input.request.scope
	s in withheld
}

rule_denials contains {"error": "unauthorized_client", "reason": sprintf("a rule of your own withholds %v, which is not {\"server\": ID, \"scope\": S}", [w])} if {
	some w in rules.withhold
	not withhold_entry(w)
}

rule_denials contains {"error": "unauthorized_client", "reason": sprintf("a rule of your own sets max_ttl %v, which is not a number of seconds of at least 1", [rules.max_ttl])} if {
	not max_ttl_ok
}

withhold_entry(w) if {
	is_string(w.server)
	is_string(w.scope)
	count(w) == 2
}

default max_ttl_ok := true

max_ttl_ok := false if {
	max_ttl := rules.max_ttl
	not is_number(max_ttl)
} else := false if {
	rules.max_ttl < 1
}

# The error of a refusal by rules of your own: the first of
# invalid_target, unauthorized_client, invalid_scope that a denial
# carries. Any other code makes the decision malformed: the server refuses
# it (server_error) and check reports it.
rules_error := "invalid_target" if {
	some d in rule_denials
	d.error == "invalid_target"
} else := "unauthorized_client" if {
	some d in rule_denials
	d.error == "unauthorized_client"
} else := "invalid_scope" if {
	some d in rule_denials
	d.error == "invalid_scope"
} else := min({d.error | some d in rule_denials})

rules_deny_reasons := sort({d.reason | some d in rule_denials})

rules_deny_decision := {
	"allow": false,
	"error": rules_error,
	"error_description": described(rules_deny_reasons),
	"reasons": rules_deny_reasons,
}

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
