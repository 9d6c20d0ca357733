# A guard written for numeric audiences: to_number errors for any other
# value. The error must deny (server_error), never make blocked undefined
# and so "not blocked" true. It only looks at audiences that name no
# server, so that the decisions every load makes (each client, for no
# audience and for each server it reaches) evaluate, and a request naming
# "abc" is what errors.
package tollgate.token

blocked if {
	count(input.servers) == 0
	to_number(input.request.audience[0]) > 100
}

decision := {"allow": false, "error": "invalid_target", "reasons": ["audience above 100"]} if blocked

decision := {"allow": true, "audience": [input.client.id], "reasons": ["not blocked"]} if not blocked
