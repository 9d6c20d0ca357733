# Access and scopes: what a client may get from each server it names.
#
# A client reaches a server through its own access block or through a group
# it is a member of; what it may get there is the union of those blocks'
# scopes. The server passes that join, by server id, in input.client.reach
# (and input.account.reach), so a requested server is looked up by key. When
# the client impersonates an account, the account must reach the server too
# (through its groups) and only scopes both may get are allowed.
package tollgate.scope

import data.tollgate.audience
import data.tollgate.impersonation.impersonating

# Everything grantable across the requested servers: what the server
# defines and the client may get there...
grantable_all contains s if {
	not impersonating
	some id in audience.requested_ids
	some s in input.client.reach[id].scopes
	s in input.servers[id].scopes
}

# ...and, when it impersonates an account, the account may get too.
grantable_all contains s if {
	impersonating
	some id in audience.requested_ids
	some s in input.client.reach[id].scopes
	s in input.account.reach[id].scopes
	s in input.servers[id].scopes
}

# Granted scopes: all grantable ones when none are requested, else the
# requested ones, which must all be grantable (see not_grantable).
granted := sort(grantable_all) if {
	input.request.scope == []
} else := sort([s | some s in input.request.scope; s in grantable_all]) if {
	input.request.scope != []
}

# Requested scopes that no requested server grants: invalid_scope.
not_grantable contains s if {
	some s in input.request.scope
	not s in grantable_all
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
