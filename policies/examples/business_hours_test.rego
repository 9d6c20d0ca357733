package tollgate.examples.business_hours_test

import data.tollgate.token

ledger := {"id": "ledger-api", "audience": "https://ledger.example", "scopes": ["read:ledger"], "token_ttl": 0}

booker := {
	"id": "booker", "access": {"ledger-api": ["read:ledger"]}, "groups": [],
	"reach": {"ledger-api": {"scopes": ["read:ledger"], "via": ["its own access"]}},
	"impersonate": "", "token_ttl": 0, "disabled": false,
}

at(time, audience, scopes) := {
	"client": booker,
	"request": {"grant_type": "client_credentials", "audience": audience, "scope": scopes, "auth_method": "client_secret_basic", "time": time},
	"servers": {"ledger-api": ledger},
	"settings": {"default_token_ttl": 3600, "max_token_ttl": 86400},
}

test_a_weekday_at_noon_is_within if {
	d := token.decision with input as at("2030-01-08T12:00:00Z", ["ledger-api"], [])
	d.allow
}

test_a_weekday_night_is_outside if {
	d := token.decision with input as at("2030-01-08T21:30:00Z", ["ledger-api"], ["read:ledger"])
	not d.allow
	d.error == "unauthorized_client"
	d.reasons == ["ledger-api tokens are issued Monday to Friday, 06:00 to 20:00 UTC"]
}

test_early_morning_is_outside if {
	d := token.decision with input as at("2030-01-08T05:59:59Z", ["https://ledger.example"], [])
	not d.allow
}

test_a_saturday_is_outside if {
	d := token.decision with input as at("2030-01-12T12:00:00Z", ["ledger-api"], [])
	not d.allow
}

test_no_readable_time_is_outside if {
	d := token.decision with input as at("soon", ["ledger-api"], [])
	not d.allow
}

test_other_servers_are_not_concerned if {
	d := token.decision with input as json.patch(at("2030-01-12T12:00:00Z", [], []), [{"op": "replace", "path": "/servers", "value": {}}])
	d.allow
}
