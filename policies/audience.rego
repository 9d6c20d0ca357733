# Audience: which servers a token request names.
#
# A requested value (from the audience and resource parameters, or a scope
# token naming a server) names a server when it equals the server's audience
# or its id. The Go side passes only the named servers in input.servers.
package tollgate.audience

# No audience requested: the token is for the client itself (aud = client id),
# the single application case.
default self := false

self if count(input.request.audience) == 0

# A value names a server by its audience or by its id.
names(value, server) if value == server.audience

names(value, server) if value == server.id

# The requested values that name no server: each one is invalid_target.
unknown contains value if {
	some value in input.request.audience
	not named(value)
}

named(value) if {
	some server in input.servers
	names(value, server)
}

# The ids of the servers named, in request order, each once (a server may be
# named twice, by its id and by its audience).
requested_ids := [id |
	some i, id in named_ids
	not id in array.slice(named_ids, 0, i)
]

named_ids := [id |
	some value in input.request.audience
	some id, server in input.servers
	names(value, server)
]
