package tollgate.examples.freeze_scope_test

import data.tollgate.token

ledger := {"id": "ledger-api", "audience": "https://ledger.example", "scopes": ["read:ledger", "write:ledger"], "token_ttl": 0}

reports := {"id": "reports", "audience": "reports", "scopes": ["read:ledger", "write:ledger"], "token_ttl": 0}

booker := {
	"id": "booker", "access": {"ledger-api": ["read:ledger", "write:ledger"], "reports": ["read:ledger", "write:ledger"]}, "groups": [],
	"reach": {
		"ledger-api": {"scopes": ["read:ledger", "write:ledger"], "via": ["its own access"]},
		"reports": {"scopes": ["read:ledger", "write:ledger"], "via": ["its own access"]},
	},
	"impersonate": "", "token_ttl": 0, "disabled": false,
}

# A Tuesday at noon: within any business hours a neighbouring example sets.
asking(audience, servers, scopes) := {
	"client": booker,
	"request": {"grant_type": "client_credentials", "audience": audience, "scope": scopes, "auth_method": "client_secret_basic", "time": "2030-01-08T12:00:00Z"},
	"servers": servers,
	"settings": {"default_token_ttl": 3600, "max_token_ttl": 86400},
}

test_no_scope_asked_gets_the_other_scopes if {
	d := token.decision with input as asking(["ledger-api"], {"ledger-api": ledger}, [])
	d.allow
	d.scope == ["read:ledger"]
}

test_the_frozen_scope_asked_by_name_is_invalid_scope if {
	d := token.decision with input as asking(["https://ledger.example"], {"ledger-api": ledger}, ["write:ledger"])
	not d.allow
	d.error == "invalid_scope"
}

test_a_token_for_two_servers_loses_it_too if {
	d := token.decision with input as asking(["reports", "ledger-api"], {"ledger-api": ledger, "reports": reports}, [])
	d.allow
	d.scope == ["read:ledger"]
}

test_other_servers_keep_it if {
	d := token.decision with input as asking(["reports"], {"reports": reports}, ["write:ledger"])
	d.allow
	d.scope == ["write:ledger"]
}
