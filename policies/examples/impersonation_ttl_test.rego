package tollgate.examples.impersonation_ttl_test

import data.tollgate.token

orders := {"id": "orders", "audience": "orders", "scopes": ["read"], "token_ttl": 0}

reach := {"orders": {"scopes": ["read"], "via": ["its own access"]}}

cli(impersonate, token_ttl) := {
	"id": "report-cli", "access": {"orders": ["read"]}, "groups": [], "reach": reach,
	"impersonate": impersonate, "token_ttl": token_ttl, "disabled": false,
}

svc := {
	"id": "svc-reports", "impersonators": ["report-cli"], "attributes": {}, "disabled": false,
	"groups": [{"id": "readers", "access": {"orders": ["read"]}}],
	"reach": {"orders": {"scopes": ["read"], "via": ["group readers"]}},
}

asking(client) := {
	"client": client,
	"request": {"grant_type": "client_credentials", "audience": ["orders"], "scope": [], "auth_method": "client_secret_basic", "time": "2030-01-08T12:00:00Z"},
	"servers": {"orders": orders},
	"settings": {"default_token_ttl": 3600, "max_token_ttl": 86400},
}

test_impersonation_lives_fifteen_minutes if {
	d := token.decision with input as object.union(asking(cli("svc-reports", 0)), {"account": svc})
	d.allow
	d.subject == "svc-reports"
	d.ttl == 900
}

test_never_longer_than_the_defaults_give if {
	d := token.decision with input as object.union(asking(cli("svc-reports", 300)), {"account": svc})
	d.ttl == 300
}

test_a_client_as_itself_keeps_its_lifetime if {
	d := token.decision with input as asking(cli("", 0))
	d.allow
	not d.ttl
}
