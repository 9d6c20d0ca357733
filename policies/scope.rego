# Access and scopes: what a client may get from each server it names.
#
# A client reaches a server through its own access block or through a group
# it is a member of; what it may get there is the union of those blocks'
# scopes. The server passes that join, by server id, in input.client.reach
# (and input.account.reach), so a requested server is looked up by key. When
# the client impersonates an account, the account must reach the server too
# (through its groups) and only scopes both may get are allowed.
#
# A token's scopes hold on every server of its aud: a resource server reads
# scope once it finds itself in aud (RFC 9068 §4), so a token naming several
# servers carries only the scopes every one of them grants.
package tollgate.scope

import data.tollgate.audience
import data.tollgate.impersonation.impersonating

# The OpenID Connect scope values (OpenID Connect Core §3.1.2.1, §5.4): a
# token for the client itself (no audience) may carry these, as the
# single-application case asks scope=openid; it answers at userinfo.
openid_scopes := {"openid", "profile", "email", "address", "phone"}

# Grantable: the scopes every requested server grants. With one server,
# the usual request, they are looked up there directly (it is the rule
# below for that one id, without a call per scope)...
grantable contains s if {
	[id] := audience.requested_ids
	not impersonating
	some s in input.client.reach[id].scopes
	s in input.servers[id].scopes
}

grantable contains s if {
	[id] := audience.requested_ids
	impersonating
	some s in input.client.reach[id].scopes
	s in input.account.reach[id].scopes
	s in input.servers[id].scopes
}

# ...with several, those of the first that no other withholds...
grantable contains s if {
	audience.requested_ids[1]
	some s in input.client.reach[audience.requested_ids[0]].scopes
	not withheld(s)
}

# A scope withheld by some requested server.
withheld(s) if {
	some id in audience.requested_ids
	not grants(id, s)
}

# A server grants a scope that it defines and the client may get there...
grants(id, s) if {
	not impersonating
	s in input.client.reach[id].scopes
	s in input.servers[id].scopes
}

# ...and, when it impersonates an account, the account may get too.
grants(id, s) if {
	impersonating
	s in input.client.reach[id].scopes
	s in input.account.reach[id].scopes
	s in input.servers[id].scopes
}

# ...or, with no audience, the OpenID scopes asked for.
grantable contains s if {
	audience.self
	some s in input.request.scope
	s in openid_scopes
}

# Granted scopes: all grantable ones when none are requested, else the
# requested ones, which must all be grantable (see not_grantable).
granted := [] if {
	# No audience and no scope: nothing is grantable (see above).
	input.request.audience == []
	input.request.scope == []
} else := sort(grantable) if {
	input.request.scope == []
} else := sort([s | some s in input.request.scope; s in grantable]) if {
	input.request.scope != []
}

# Requested scopes that are not grantable: invalid_scope.
not_grantable contains s if {
	some s in input.request.scope
	not s in grantable
}

# Requested scopes that no requested server defines (as opposed to ones a
# server defines but the client may not get there).
undefined contains s if {
	not audience.self
	some s in not_grantable
	every id in audience.requested_ids {
		not s in input.servers[id].scopes
	}
}

# Requested servers the client cannot reach...
unreachable contains id if {
	some id in audience.requested_ids
	not input.client.reach[id]
}

# ...or, when it impersonates an account, the account cannot.
unreachable contains id if {
	impersonating
	some id in audience.requested_ids
	not input.account.reach[id]
}
