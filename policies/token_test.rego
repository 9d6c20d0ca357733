package tollgate.token_test

import data.tollgate.token

# The example configuration's facts, as the server passes them.

world := {"id": "world-mappers", "audience": "https://api.worldmappers.example", "scopes": ["read:directions", "read:geocode"], "token_ttl": 1800}

server1 := {"id": "Server1", "audience": "Server1", "scopes": ["read"], "token_ttl": 0}

server2 := {"id": "Server2", "audience": "Server2", "scopes": ["read", "write"], "token_ttl": 0}

gift := {
	"id": "gift-deliveries", "name": "Gift Deliveries Service", "auth_method": "client_secret_post",
	"access": {"world-mappers": ["read:directions"]}, "groups": [],
	"reach": {"world-mappers": {"scopes": ["read:directions"], "via": ["its own access"]}},
	"impersonate": "", "token_ttl": 0, "disabled": false,
}

client1 := {"id": "client1", "access": {}, "groups": [], "reach": {}, "impersonate": "", "token_ttl": 0, "disabled": false}

impersonator := {
	"id": "Client1", "access": {"Server1": ["read"], "Server2": ["read", "write"]}, "groups": [],
	"reach": {
		"Server1": {"scopes": ["read"], "via": ["its own access"]},
		"Server2": {"scopes": ["read", "write"], "via": ["its own access"]},
	},
	"impersonate": "User1", "token_ttl": 0, "disabled": false,
}

user1 := {
	"id": "User1", "impersonators": ["Client1"], "attributes": {}, "disabled": false,
	"groups": [{"id": "Group1", "access": {"Server1": ["read"]}}, {"id": "Group2", "access": {"Server2": ["read"]}}],
	"reach": {
		"Server1": {"scopes": ["read"], "via": ["group Group1"]},
		"Server2": {"scopes": ["read"], "via": ["group Group2"]},
	},
}

# User1 after leaving Group2: it reaches Server1 only.
user1_without_group2 := json.patch(user1, [
	{"op": "replace", "path": "/groups", "value": [{"id": "Group1", "access": {"Server1": ["read"]}}]},
	{"op": "remove", "path": "/reach/Server2"},
])

# User1 in no group: it reaches nothing.
user1_without_groups := json.patch(user1, [
	{"op": "replace", "path": "/groups", "value": []},
	{"op": "replace", "path": "/reach", "value": {}},
])

request(aud, scopes) := {"grant_type": "client_credentials", "audience": aud, "scope": scopes, "auth_method": "client_secret_basic"}

test_auth0_case_grants_world_mappers_with_its_scope if {
	d := token.decision with input as {"client": gift, "request": request(["https://api.worldmappers.example"], []), "servers": {"world-mappers": world}}
	d.allow
	d.audience == ["https://api.worldmappers.example"]
	d.scope == ["read:directions"]
	d.subject == "gift-deliveries"
	d.claims == {}
	not d.ttl
	count(d.reasons) > 0
}

test_audience_by_id_grants_the_audience_value if {
	d := token.decision with input as {"client": gift, "request": request(["world-mappers"], ["read:directions"]), "servers": {"world-mappers": world}}
	d.allow
	d.audience == ["https://api.worldmappers.example"]
}

test_single_application_gets_a_token_for_itself if {
	d := token.decision with input as {"client": client1, "request": request([], []), "servers": {}}
	d.allow
	d.audience == ["client1"]
	d.scope == []
	d.subject == "client1"
}

test_scopes_without_audience_are_invalid_scope if {
	d := token.decision with input as {"client": client1, "request": request([], ["read"]), "servers": {}}
	not d.allow
	d.error == "invalid_scope"
	d.reasons == ["scope \"read\" needs an audience: a token for the client itself carries only OpenID scopes (address email openid phone profile)"]
}

test_single_application_may_ask_for_openid if {
	d := token.decision with input as {"client": client1, "request": request([], ["openid"]), "servers": {}}
	d.allow
	d.audience == ["client1"]
	d.scope == ["openid"]
	d.subject == "client1"
}

# orders and billing both define read and write; shop may write on orders
# only.
orders := {"id": "orders", "audience": "https://orders.example", "scopes": ["read", "write"], "token_ttl": 0}

billing := {"id": "billing", "audience": "https://billing.example", "scopes": ["read", "write"], "token_ttl": 0}

shop := {
	"id": "shop", "access": {"orders": ["read", "write"], "billing": ["read"]}, "groups": [],
	"reach": {
		"orders": {"scopes": ["read", "write"], "via": ["its own access"]},
		"billing": {"scopes": ["read"], "via": ["its own access"]},
	},
	"impersonate": "", "token_ttl": 0, "disabled": false,
}

test_two_audiences_get_only_the_scopes_both_grant if {
	d := token.decision with input as {"client": shop, "request": request(["orders", "billing"], []), "servers": {"orders": orders, "billing": billing}}
	d.allow
	d.audience == ["https://orders.example", "https://billing.example"]
	d.scope == ["read"]
}

test_a_scope_one_audience_does_not_grant_is_invalid_scope if {
	d := token.decision with input as {"client": shop, "request": request(["orders", "billing"], ["read", "write"]), "servers": {"orders": orders, "billing": billing}}
	not d.allow
	d.error == "invalid_scope"
	d.reasons == ["client shop may not get scope \"write\" from server billing"]
}

test_a_scope_one_audience_does_not_define_is_invalid_scope if {
	d := token.decision with input as {
		"client": shop, "request": request(["orders", "billing"], ["write"]),
		"servers": {"orders": orders, "billing": object.union(billing, {"scopes": ["read"]})},
	}
	not d.allow
	d.error == "invalid_scope"
	d.reasons == ["server billing does not define scope \"write\", and the token would be for it too"]
}

test_a_scope_that_exists_nowhere_is_told_apart_from_one_the_client_lacks if {
	nowhere := token.decision with input as {"client": gift, "request": request(["world-mappers"], ["admin"]), "servers": {"world-mappers": world}}
	nowhere.error == "invalid_scope"
	nowhere.error_description == "no requested server defines scope \"admin\""
	lacking := token.decision with input as {"client": gift, "request": request(["world-mappers"], ["read:geocode"]), "servers": {"world-mappers": world}}
	lacking.error == "invalid_scope"
	lacking.error_description == "client gift-deliveries may not get scope \"read:geocode\" from server world-mappers"
}

test_long_values_are_quoted_cut_short if {
	long := concat("", [x | some _ in numbers.range(1, 100); x := "a"])
	d := token.decision with input as {"client": gift, "request": request([long], [long]), "servers": {}}
	d.error == "invalid_target"
	prefix := sprintf("%q...", [substring(long, 0, 64)])
	every reason in d.reasons {
		contains(reason, prefix)
		not contains(reason, long)
	}
	not contains(d.error_description, long)
}

test_the_description_is_bounded_and_starts_with_the_error_s_problems if {
	d := token.decision with input as {
		"client": client1, "request": request(["Server1", "a", "b", "c", "d"], ["admin"]),
		"servers": {"Server1": server1},
	}
	d.error == "invalid_target"
	count(d.reasons) == 6
	d.error_description == concat("; ", [
		"audience \"a\" names no server",
		"audience \"b\" names no server",
		"audience \"c\" names no server",
		"audience \"d\" names no server",
		"and 2 more",
	])
}

test_unknown_audience_is_invalid_target if {
	d := token.decision with input as {"client": gift, "request": request(["https://unknown.example"], []), "servers": {}}
	not d.allow
	d.error == "invalid_target"
	d.reasons == ["audience \"https://unknown.example\" names no server"]
}

test_scope_not_granted_is_invalid_scope if {
	d := token.decision with input as {"client": gift, "request": request(["world-mappers"], ["read:geocode"]), "servers": {"world-mappers": world}}
	not d.allow
	d.error == "invalid_scope"
}

test_unreachable_server_is_unauthorized_client if {
	d := token.decision with input as {"client": client1, "request": request(["Server1"], []), "servers": {"Server1": server1}}
	not d.allow
	d.error == "unauthorized_client"
	d.reasons == ["client client1 has no access to server Server1"]
}

test_error_precedence_lists_every_reason if {
	d := token.decision with input as {
		"client": client1,
		"request": request(["Server1", "nowhere"], ["admin"]),
		"servers": {"Server1": server1},
	}
	d.error == "invalid_target"
	count(d.reasons) == 3
}

test_access_through_a_group if {
	grouped := object.union(client1, {
		"groups": [{"id": "readers", "access": {"Server1": ["read"]}}],
		"reach": {"Server1": {"scopes": ["read"], "via": ["group readers"]}},
	})
	d := token.decision with input as {"client": grouped, "request": request(["Server1"], []), "servers": {"Server1": server1}}
	d.allow
	d.scope == ["read"]
	d.reasons == ["client client1 reaches Server1 through group readers"]
}

test_every_route_to_a_server_is_a_reason if {
	both := object.union(client1, {
		"access": {"Server1": ["read"]},
		"groups": [{"id": "readers", "access": {"Server1": ["read"]}}],
		"reach": {"Server1": {"scopes": ["read"], "via": ["its own access", "group readers"]}},
	})
	d := token.decision with input as {"client": both, "request": request(["Server1"], []), "servers": {"Server1": server1}}
	d.reasons == [
		"client client1 reaches Server1 through group readers",
		"client client1 reaches Server1 through its own access",
	]
}

test_impersonation_grants_server2_as_user1 if {
	d := token.decision with input as {
		"client": impersonator, "account": user1,
		"request": request(["Server2"], []), "servers": {"Server2": server2},
	}
	d.allow
	d.audience == ["Server2"]
	d.scope == ["read"]
	d.subject == "User1"
	d.reasons == [
		"client Client1 acts as account User1, which reaches Server2 through group Group2",
		"client Client1 reaches Server2 through its own access",
	]
}

test_impersonation_denied_when_user1_leaves_group2 if {
	d := token.decision with input as {
		"client": impersonator, "account": user1_without_group2,
		"request": request(["Server2"], []), "servers": {"Server2": server2},
	}
	not d.allow
	d.error == "unauthorized_client"
	d.reasons == ["account User1 has no access to server Server2 (client Client1 acts as it)"]
}

test_impersonation_denied_when_account_does_not_list_client if {
	d := token.decision with input as {
		"client": impersonator, "account": object.union(user1, {"impersonators": []}),
		"request": request(["Server2"], []), "servers": {"Server2": server2},
	}
	not d.allow
	d.error == "unauthorized_client"
}

test_impersonation_denied_when_account_is_missing if {
	d := token.decision with input as {"client": impersonator, "request": request(["Server2"], []), "servers": {"Server2": server2}}
	not d.allow
	d.error == "unauthorized_client"
}

test_impersonation_may_not_exceed_the_account if {
	d := token.decision with input as {
		"client": impersonator, "account": user1,
		"request": request(["Server2"], ["write"]), "servers": {"Server2": server2},
	}
	not d.allow
	d.error == "invalid_scope"
	d.reasons == ["account User1 may not get scope \"write\" from server Server2 (client Client1 acts as it)"]
}

test_disabled_client_is_denied if {
	d := token.decision with input as {"client": object.union(gift, {"disabled": true}), "request": request(["world-mappers"], []), "servers": {"world-mappers": world}}
	not d.allow
	d.error == "unauthorized_client"
}

test_client_token_ttl_is_passed_on if {
	d := token.decision with input as {"client": object.union(client1, {"token_ttl": 900}), "request": request([], []), "servers": {}}
	d.ttl == 900
}

test_deny_decision_grants_nothing if {
	d := token.decision with input as {"client": client1, "request": request(["Server1"], []), "servers": {"Server1": server1}}
	not d.audience
	not d.scope
	not d.subject
}

test_default_decision_denies_without_input if {
	d := token.decision with input as {}
	d.allow == false
}

# Every way to be denied, so the allow rule and the problem sets are checked
# against each other: each denial must name its problem, never fall through
# to the default decision.
denials := {
	"unknown audience": {"client": gift, "request": request(["https://unknown.example"], []), "servers": {}},
	"scope not granted": {"client": gift, "request": request(["world-mappers"], ["read:geocode"]), "servers": {"world-mappers": world}},
	"scopes without audience": {"client": client1, "request": request([], ["read"]), "servers": {}},
	"scope undefined": {"client": gift, "request": request(["world-mappers"], ["admin"]), "servers": {"world-mappers": world}},
	"scope one audience does not grant": {"client": shop, "request": request(["orders", "billing"], ["write"]), "servers": {"orders": orders, "billing": billing}},
	"scope one audience does not define": {
		"client": shop, "request": request(["orders", "billing"], ["write"]),
		"servers": {"orders": orders, "billing": object.union(billing, {"scopes": ["read"]})},
	},
	"scope beyond the account": {
		"client": impersonator, "account": user1,
		"request": request(["Server2"], ["write"]), "servers": {"Server2": server2},
	},
	"unreachable server": {"client": client1, "request": request(["Server1"], []), "servers": {"Server1": server1}},
	"disabled client": {"client": object.union(gift, {"disabled": true}), "request": request(["world-mappers"], []), "servers": {"world-mappers": world}},
	"account missing": {"client": impersonator, "request": request(["Server2"], []), "servers": {"Server2": server2}},
	"account does not list client": {
		"client": impersonator, "account": object.union(user1, {"impersonators": []}),
		"request": request(["Server2"], []), "servers": {"Server2": server2},
	},
	"account disabled": {
		"client": impersonator, "account": object.union(user1, {"disabled": true}),
		"request": request(["Server2"], []), "servers": {"Server2": server2},
	},
	"account cannot reach": {
		"client": impersonator, "account": user1_without_groups,
		"request": request(["Server2"], []), "servers": {"Server2": server2},
	},
}

test_every_denial_names_its_problem if {
	every name, case in denials {
		d := token.decision with input as case
		d.allow == false
		d.reasons != ["the policy reached no decision"]
		count(d.reasons) > 0
		name != ""
	}
}
