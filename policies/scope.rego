# Access and scopes: what a client may get from each server it names.
#
# A client reaches a server through its own access block or through a group
# it is a member of; what it may get there is the union of those blocks'
# scopes. When it impersonates an account, the account must reach the server
# too (through its groups) and only scopes both may get are allowed.
package tollgate.scope

import data.tollgate.audience

impersonating if input.client.impersonate != ""

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
	not impersonating
	client_reaches(id)
}

# With impersonation, both the client and the account must reach it.
reaches(id) if {
	impersonating
	client_reaches(id)
	account_reaches(id)
}

# A scope the client may get on a server: through its own access...
client_may(id, s) if s in input.client.access[id]

# ...or through a group.
client_may(id, s) if {
	some group in input.client.groups
	s in group.access[id]
}

# When impersonating, the account must be allowed the scope too.
account_may(_, _) if not impersonating

account_may(id, s) if {
	impersonating
	some group in input.account.groups
	s in group.access[id]
}

# Everything grantable across the requested servers the client reaches.
grantable_all contains s if {
	some id in audience.requested_ids
	reaches(id)
	some s in input.servers[id].scopes
	client_may(id, s)
	account_may(id, s)
}

# Granted scopes: all grantable ones when none are requested...
granted := sort(grantable_all) if count(input.request.scope) == 0

# ...else the requested ones, which must all be grantable (see not_grantable).
granted := sort([s | some s in input.request.scope; s in grantable_all]) if count(input.request.scope) > 0

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
