# Access and scopes: what a client may get from each server it names.
#
# A client reaches a server through its own access block or through a group
# it is a member of; what it may get there is the union of those blocks'
# scopes. When it impersonates an account, the account must reach the server
# too (through its groups) and only scopes both may get are allowed.
package tollgate.scope

import data.tollgate.audience
import data.tollgate.impersonation.impersonating

# The client reaches a server through its own access block...
client_reaches(id) if input.client.access[id]

# ...or through a group it is a member of.
client_reaches(id) if {
	some group in input.client.groups
	group.access[id]
}

# An impersonated account reaches a server only through its groups.
account_reaches(id) if {
	some group in input.account.groups
	group.access[id]
}

# Without impersonation, reaching a server is the client's own affair.
reaches(id) if {
	client_reaches(id)
	not impersonating
}

# With impersonation, the account must reach it too.
reaches(id) if {
	client_reaches(id)
	impersonating
	account_reaches(id)
}

# The scopes the client may get from a server: those of its own access
# block and of its groups'.
client_scopes(id) := {s | some s in input.client.access[id]} | {s |
	some group in input.client.groups
	some s in group.access[id]
}

# The scopes an impersonated account may get from a server, through its
# groups.
account_scopes(id) := {s |
	some group in input.account.groups
	some s in group.access[id]
}

# Everything grantable across the requested servers the client reaches:
# what the server defines and the client may get...
grantable_all contains s if {
	not impersonating
	some id in audience.requested_ids
	reaches(id)
	some s in input.servers[id].scopes
	s in client_scopes(id)
}

# ...and, when it impersonates an account, the account may get too.
grantable_all contains s if {
	impersonating
	some id in audience.requested_ids
	reaches(id)
	some s in input.servers[id].scopes
	s in client_scopes(id)
	s in account_scopes(id)
}

# Granted scopes: all grantable ones when none are requested, else the
# requested ones, which must all be grantable (see not_grantable).
granted := sort(grantable_all) if {
	count(input.request.scope) == 0
} else := sort([s | some s in input.request.scope; s in grantable_all]) if {
	count(input.request.scope) > 0
}

# Requested scopes that no requested server grants: invalid_scope.
not_grantable contains s if {
	some s in input.request.scope
	not s in grantable_all
}

# Requested servers the client (or the impersonated account) cannot reach.
unreachable contains id if {
	some id in audience.requested_ids
	not reaches(id)
}
