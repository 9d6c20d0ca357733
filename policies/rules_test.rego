# How token.rego composes rules of your own (package tollgate.rules): each
# test sets the rules with `with`, so it holds whatever rules the policies
# folder carries.
package tollgate.rules_test

import data.tollgate.token

orders := {"id": "orders", "audience": "https://orders.example", "scopes": ["read", "write"], "token_ttl": 0}

billing := {"id": "billing", "audience": "billing", "scopes": ["read", "write"], "token_ttl": 600}

shop := {
	"id": "shop", "access": {"orders": ["read", "write"], "billing": ["read", "write"]}, "groups": [],
	"reach": {
		"orders": {"scopes": ["read", "write"], "via": ["its own access"]},
		"billing": {"scopes": ["read", "write"], "via": ["its own access"]},
	},
	"impersonate": "", "token_ttl": 0, "disabled": false,
}

settings := {"default_token_ttl": 3600, "max_token_ttl": 86400}

# A request for servers (by id) and scopes, with the settings the server
# passes.
asking(ids, scopes) := {
	"client": shop,
	"request": {"grant_type": "client_credentials", "audience": ids, "scope": scopes, "auth_method": "client_secret_basic"},
	"servers": {id: s | some id in ids; s := {"orders": orders, "billing": billing}[id]},
	"settings": settings,
}

freeze_write := {{"server": "orders", "scope": "write"}}

test_no_rules_grant_what_the_defaults_grant if {
	d := token.decision with input as asking(["orders"], [])
	d.allow
	d.scope == ["read", "write"]
	d.claims == {}
	not d.ttl
}

test_grant_is_what_the_defaults_would_grant if {
	g := token.grant with input as asking(["orders", "billing"], ["read"])
	g == {"audience": ["https://orders.example", "billing"], "scope": ["read"], "subject": "shop", "ttl": 600}
}

test_grant_ttl_is_the_clients_own_capped_by_max_token_ttl if {
	given := json.patch(asking(["orders"], []), [
		{"op": "replace", "path": "/client/token_ttl", "value": 172800},
		{"op": "replace", "path": "/settings/max_token_ttl", "value": 7200},
	])
	g := token.grant with input as given
	g.ttl == 7200
}

test_grant_has_no_ttl_without_settings if {
	given := json.remove(asking(["orders"], []), ["settings"])
	g := token.grant with input as given
	not g.ttl
}

test_a_deny_message_denies_as_unauthorized_client if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.deny as {"orders is closed"}
	not d.allow
	d.error == "unauthorized_client"
	d.reasons == ["orders is closed"]
	d.error_description == "orders is closed"
}

test_a_deny_object_chooses_its_error if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.deny as {{"error": "invalid_target", "error_description": "orders moved"}}
	d.error == "invalid_target"
	d.reasons == ["orders moved"]
}

test_deny_errors_take_the_defaults_precedence if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.deny as {{"error": "invalid_scope", "error_description": "a"}, "b"}
	d.error == "unauthorized_client"
	d.reasons == ["a", "b"]
}

test_a_deny_object_without_description_still_says_why if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.deny as {{"error": "invalid_scope"}}
	d.error == "invalid_scope"
	startswith(d.reasons[0], "denied by a rule of your own: ")
}

test_a_deny_message_of_another_type_denies_too if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.deny as {7, ""}
	not d.allow
	d.error == "unauthorized_client"
	d.reasons == ["denied by a rule of your own: ", "denied by a rule of your own: 7"]
}

test_an_unknown_deny_error_is_passed_on_for_the_server_to_refuse if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.deny as {{"error": "no_way"}}
	d.error == "no_way"
}

test_a_denial_by_the_defaults_is_not_the_rules_business if {
	d := token.decision with input as asking(["nowhere"], []) with data.tollgate.rules.deny as {"closed"}
	d.error == "invalid_target"
	not "closed" in d.reasons
}

test_withhold_drops_the_scope_when_none_is_asked_for if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.withhold as freeze_write
	d.allow
	d.scope == ["read"]
	"scope write is withheld by a rule of your own" in d.reasons
}

test_withhold_refuses_the_scope_asked_for_by_name if {
	d := token.decision with input as asking(["orders"], ["read", "write"]) with data.tollgate.rules.withhold as freeze_write
	not d.allow
	d.error == "invalid_scope"
	d.reasons == [`scope "write" is withheld by a rule of your own`]
}

test_withhold_keeps_the_other_scopes_asked_for if {
	d := token.decision with input as asking(["orders"], ["read"]) with data.tollgate.rules.withhold as freeze_write
	d.allow
	d.scope == ["read"]
}

test_withhold_on_one_server_drops_the_scope_from_a_token_for_both if {
	d := token.decision with input as asking(["billing", "orders"], []) with data.tollgate.rules.withhold as freeze_write
	d.allow
	d.scope == ["read"]
}

test_withhold_on_another_server_changes_nothing if {
	d := token.decision with input as asking(["billing"], []) with data.tollgate.rules.withhold as freeze_write
	d.scope == ["read", "write"]
}

test_a_malformed_withhold_denies_every_request if {
	d := token.decision with input as asking(["billing"], []) with data.tollgate.rules.withhold as {{"server": "orders", "scopes": ["write"]}}
	not d.allow
	d.error == "unauthorized_client"
	contains(d.reasons[0], "which is not {\"server\": ID, \"scope\": S}")
}

test_claims_are_merged_into_the_token if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.claims as {"tenant": "acme"}
	d.claims == {"tenant": "acme"}
}

test_max_ttl_shortens_the_lifetime if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.max_ttl as 900
	d.ttl == 900
	"a rule of your own caps the lifetime at 900 seconds" in d.reasons
}

test_max_ttl_never_lengthens_it if {
	d := token.decision with input as asking(["billing"], []) with data.tollgate.rules.max_ttl as 7200
	d.ttl == 600
	every r in d.reasons {
		not startswith(r, "a rule of your own caps")
	}
}

test_max_ttl_below_a_second_denies if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.max_ttl as 0
	not d.allow
	contains(d.reasons[0], "max_ttl 0")
}

test_max_ttl_that_is_not_a_number_denies if {
	d := token.decision with input as asking(["orders"], []) with data.tollgate.rules.max_ttl as "15m"
	not d.allow
	contains(d.reasons[0], "max_ttl 15m")
}
