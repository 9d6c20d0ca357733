package tollgate.examples.tenant_claim_test

import data.tollgate.token

orders := {"id": "orders", "audience": "orders", "scopes": ["read"], "token_ttl": 0}

shop(id) := {
	"id": id, "access": {"orders": ["read"]}, "groups": [],
	"reach": {"orders": {"scopes": ["read"], "via": ["its own access"]}},
	"impersonate": "", "token_ttl": 0, "disabled": false,
}

asking(client, audience, scopes) := {
	"client": shop(client),
	"request": {"grant_type": "client_credentials", "audience": audience, "scope": scopes, "auth_method": "client_secret_basic", "time": "2030-01-08T12:00:00Z"},
	"servers": {id: orders | some id in audience},
	"settings": {"default_token_ttl": 3600, "max_token_ttl": 86400},
}

tenants := {"acme-shop": "acme"}

test_a_client_with_a_tenant_gets_the_claim if {
	d := token.decision with input as asking("acme-shop", ["orders"], ["read"]) with data.tenants as tenants
	d.claims == {"tenant": "acme"}
}

test_whatever_it_asks if {
	d := token.decision with input as asking("acme-shop", [], []) with data.tenants as tenants
	d.claims == {"tenant": "acme"}
}

test_a_client_without_a_tenant_gets_none if {
	d := token.decision with input as asking("other-shop", ["orders"], []) with data.tenants as tenants
	d.allow
	d.claims == {}
}
