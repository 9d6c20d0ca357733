# Audience: which servers a token request names.
#
# A requested value (from the audience and resource parameters, or a scope
# token naming a server) names a server when it equals the server's audience
# or its id. The Go side passes only the named servers in input.servers.
package tollgate.audience

# No audience requested: the token is for the client itself (aud = client id),
# the single application case.
default self := false

self := input.request.audience == []

# The requested values that name no server: each one is invalid_target.
unknown contains value if {
	some value in input.request.audience
	not named_id(value)
}

# The server a value names: a server by its id, else a server by its
# audience (ids and audiences never collide: checked at load).
named_id(value) := value if {
	input.servers[value]
} else := id if {
	some id, server in input.servers
	server.audience == value
}

# The ids of the servers named, in request order, each once (a server may be
# named twice, by its id and by its audience). One value, the usual
# request, needs no look back.
requested_ids := [id] if {
	[value] := input.request.audience
	id := named_id(value)
} else := [id |
	some i, value in input.request.audience
	id := named_id(value)
	not named_before(id, i)
]

named_before(id, i) if {
	some j, value in input.request.audience
	j < i
	named_id(value) == id
}
