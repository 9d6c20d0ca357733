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

test_several_audiences_grant_the_union if {
	scope.granted == ["read:directions", "read:ledger"] with input as {
		"client": client({"world-mappers": own(["read:directions"]), "ledger-api": own(["read:ledger"])}),
		"request": request(["world-mappers", "ledger-api"], []),
		"servers": {"world-mappers": world, "ledger-api": ledger},
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
