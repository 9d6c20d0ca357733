# A small self-contained policy for the plan test that edits policies
# only: it grants a client, on each server it reaches, every scope its
# access allows there, and a token for itself. It differs from before/ in
# one rule: write:ledger is frozen.
package tollgate.token

default decision := {"allow": false}

decision := {"allow": true, "audience": [input.client.id], "scope": []} if input.request.audience == []

decision := {"allow": true, "audience": [server.audience], "scope": granted(id, server)} if {
	count(input.request.audience) == 1
	some id, server in input.servers
	input.client.reach[id]
}

granted(id, server) := sort([s | some s in input.client.reach[id].scopes; s in server.scopes; s != "write:ledger"])
