# A guard written for numeric audiences: to_number errors for any other
# value. The error must deny (server_error), never make blocked undefined
# and so "not blocked" true.
package tollgate.token

blocked if to_number(input.request.audience[0]) > 100

decision := {"allow": false, "error": "invalid_target", "reasons": ["audience above 100"]} if blocked

decision := {"allow": true, "audience": [input.client.id], "reasons": ["not blocked"]} if not blocked
