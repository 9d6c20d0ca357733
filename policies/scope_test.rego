package tollgate.scope_test

import data.tollgate.scope

world := {"id": "world-mappers", "audience": "https://api.worldmappers.example", "scopes": ["read:directions", "read:geocode"]}

ledger := {"id": "ledger-api", "audience": "ledger-api", "scopes": ["read:ledger", "write:ledger"]}

# A client as the server passes it: reach is its access blocks and its
# groups' joined by server (scopes united, the routes in via).
client(reach) := {"id": "c", "reach": reach, "impersonate": "", "disabled": false}

own(scopes) := {"scopes": scopes, "via": ["its own access"]}

request(aud, scopes) := {"audience": aud, "scope": scopes}

test_own_access_reaches_a_server if {
	count(scope.unreachable) == 0 with input as {
		"client": client({"world-mappers": own(["read:directions"])}),
		"request": request(["world-mappers"], []), "servers": {"world-mappers": world},
	}
}

test_group_access_reaches_a_server if {
	scope.granted == ["read:ledger"] with input as {
		"client": client({"ledger-api": {"scopes": ["read:ledger"], "via": ["group finance"]}}),
		"request": request(["ledger-api"], []), "servers": {"ledger-api": ledger},
	}
}

test_empty_scopes_still_reach_the_audience if {
	doc := {
		"client": client({"ledger-api": own([])}),
		"request": request(["ledger-api"], []), "servers": {"ledger-api": ledger},
	}
	count(scope.unreachable) == 0 with input as doc
	scope.granted == [] with input as doc
}

test_no_access_does_not_reach if {
	scope.unreachable == {"ledger-api"} with input as {
		"client": client({"world-mappers": own(["read:directions"])}),
		"request": request(["ledger-api"], []), "servers": {"ledger-api": ledger},
	}
}

test_no_scopes_requested_grants_all_allowed if {
	scope.granted == ["read:ledger", "write:ledger"] with input as {
		"client": client({"ledger-api": {"scopes": ["read:ledger", "write:ledger"], "via": ["its own access", "group g"]}}),
		"request": request(["ledger-api"], []), "servers": {"ledger-api": ledger},
	}
}

test_requested_scopes_are_granted_when_allowed if {
	scope.granted == ["read:directions"] with input as {
		"client": client({"world-mappers": own(["read:directions", "read:geocode"])}),
		"request": request(["world-mappers"], ["read:directions"]), "servers": {"world-mappers": world},
	}
}

test_a_scope_not_allowed_is_not_grantable if {
	scope.not_grantable == {"read:geocode"} with input as {
		"client": client({"world-mappers": own(["read:directions"])}),
		"request": request(["world-mappers"], ["read:directions", "read:geocode"]), "servers": {"world-mappers": world},
	}
}

test_a_scope_the_server_does_not_define_is_not_grantable if {
	scope.not_grantable == {"admin"} with input as {
		"client": client({"world-mappers": own(["read:directions", "admin"])}),
		"request": request(["world-mappers"], ["admin"]), "servers": {"world-mappers": world},
	}
}

# Two servers that define the same scope names, as orders and billing do.
orders := {"id": "orders", "audience": "https://orders.example", "scopes": ["read", "write"]}

billing := {"id": "billing", "audience": "https://billing.example", "scopes": ["read", "write"]}

shop := client({"orders": own(["read", "write"]), "billing": own(["read"])})

both := {"orders": orders, "billing": billing}

test_several_audiences_grant_only_what_all_grant if {
	scope.granted == [] with input as {
		"client": client({"world-mappers": own(["read:directions"]), "ledger-api": own(["read:ledger"])}),
		"request": request(["world-mappers", "ledger-api"], []),
		"servers": {"world-mappers": world, "ledger-api": ledger},
	}
}

test_shared_scope_names_grant_the_intersection if {
	scope.granted == ["read"] with input as {"client": shop, "request": request(["orders", "billing"], []), "servers": both}
}

test_a_scope_one_audience_does_not_grant_is_not_grantable if {
	doc := {"client": shop, "request": request(["orders", "billing"], ["read", "write"]), "servers": both}
	scope.not_grantable == {"write"} with input as doc
	scope.undefined == set() with input as doc
}

test_a_scope_one_audience_does_not_define_is_not_grantable if {
	doc := {
		"client": client({"orders": own(["read", "write"]), "billing": own(["read"])}),
		"request": request(["orders", "billing"], ["write"]),
		"servers": {"orders": orders, "billing": object.union(billing, {"scopes": ["read"]})},
	}
	scope.not_grantable == {"write"} with input as doc
	scope.undefined == set() with input as doc
}

test_a_scope_no_requested_server_defines_is_undefined if {
	scope.undefined == {"admin"} with input as {"client": shop, "request": request(["orders", "billing"], ["admin", "write"]), "servers": both}
}

test_no_audience_grants_the_requested_openid_scopes if {
	doc := {"client": client({}), "request": request([], ["email", "openid", "read"]), "servers": {}}
	scope.granted == ["email", "openid"] with input as doc
	scope.not_grantable == {"read"} with input as doc
	scope.undefined == set() with input as doc
}

test_no_audience_and_no_scope_grants_nothing if {
	scope.granted == [] with input as {"client": client({}), "request": request([], []), "servers": {}}
}

test_openid_is_no_server_scope if {
	scope.not_grantable == {"openid"} with input as {
		"client": client({"world-mappers": own(["read:directions"])}),
		"request": request(["world-mappers"], ["openid"]), "servers": {"world-mappers": world},
	}
}

impersonating_client := {
	"id": "Client1", "impersonate": "User1", "disabled": false,
	"reach": {"ledger-api": own(["read:ledger", "write:ledger"])},
}

account(reach) := {"id": "User1", "reach": reach}

test_impersonation_allows_the_intersection if {
	scope.granted == ["read:ledger"] with input as {
		"client": impersonating_client,
		"account": account({"ledger-api": {"scopes": ["read:ledger"], "via": ["group g"]}}),
		"request": request(["ledger-api"], []), "servers": {"ledger-api": ledger},
	}
}

test_impersonation_needs_the_account_to_reach_the_server if {
	scope.unreachable == {"ledger-api"} with input as {
		"client": impersonating_client,
		"account": account({}),
		"request": request(["ledger-api"], []), "servers": {"ledger-api": ledger},
	}
}

test_impersonation_needs_the_client_to_reach_the_server if {
	scope.unreachable == {"ledger-api"} with input as {
		"client": json.patch(impersonating_client, [{"op": "replace", "path": "/reach", "value": {}}]),
		"account": account({"ledger-api": {"scopes": ["read:ledger"], "via": ["group g"]}}),
		"request": request(["ledger-api"], []), "servers": {"ledger-api": ledger},
	}
}

test_impersonation_intersects_every_server if {
	doc := {
		"client": json.patch(impersonating_client, [{"op": "replace", "path": "/reach", "value": {"orders": own(["read", "write"]), "billing": own(["read", "write"])}}]),
		"account": account({"orders": {"scopes": ["read", "write"], "via": ["group g"]}, "billing": {"scopes": ["read"], "via": ["group g"]}}),
		"request": request(["orders", "billing"], []), "servers": both,
	}
	scope.granted == ["read"] with input as doc
}
