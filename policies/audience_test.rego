package tollgate.audience_test

import data.tollgate.audience

servers := {
	"world-mappers": {"id": "world-mappers", "audience": "https://api.worldmappers.example", "scopes": ["read:directions"]},
	"Server2": {"id": "Server2", "audience": "Server2", "scopes": ["read"]},
}

test_self_when_no_audience_is_requested if {
	audience.self with input as {"request": {"audience": []}, "servers": {}}
}

test_not_self_when_an_audience_is_requested if {
	not audience.self with input as {"request": {"audience": ["Server2"]}, "servers": servers}
}

test_a_server_is_named_by_its_audience if {
	audience.requested_ids == ["world-mappers"] with input as {
		"request": {"audience": ["https://api.worldmappers.example"]},
		"servers": servers,
	}
}

test_a_server_is_named_by_its_id if {
	audience.requested_ids == ["world-mappers"] with input as {"request": {"audience": ["world-mappers"]}, "servers": servers}
}

test_a_server_named_twice_counts_once if {
	audience.requested_ids == ["world-mappers"] with input as {
		"request": {"audience": ["world-mappers", "https://api.worldmappers.example"]},
		"servers": servers,
	}
}

test_several_servers_keep_request_order if {
	audience.requested_ids == ["Server2", "world-mappers"] with input as {
		"request": {"audience": ["Server2", "world-mappers"]},
		"servers": servers,
	}
}

test_a_value_naming_no_server_is_unknown if {
	audience.unknown == {"https://unknown.example"} with input as {
		"request": {"audience": ["Server2", "https://unknown.example"]},
		"servers": servers,
	}
}
