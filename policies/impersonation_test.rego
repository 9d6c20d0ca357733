package tollgate.impersonation_test

import data.tollgate.impersonation

client := {"id": "Client1", "impersonate": "User1", "disabled": false}

account := {"id": "User1", "impersonators": ["Client1"], "disabled": false}

test_impersonation_valid_when_both_sides_agree if {
	impersonation.valid with input as {"client": client, "account": account}
	impersonation.subject == "User1" with input as {"client": client, "account": account}
}

test_no_impersonation_means_the_client_is_the_subject if {
	impersonation.subject == "c" with input as {"client": {"id": "c", "impersonate": "", "disabled": false}}
	not impersonation.valid with input as {"client": {"id": "c", "impersonate": "", "disabled": false}}
}

test_impersonation_denied_when_account_does_not_exist if {
	not impersonation.valid with input as {"client": client}
	impersonation.problems == {"account User1 does not exist"} with input as {"client": client}
}

test_impersonation_denied_when_account_does_not_list_client if {
	acct := object.union(account, {"impersonators": ["Someone"]})
	not impersonation.valid with input as {"client": client, "account": acct}
	impersonation.problems == {"account User1 does not list client Client1 in its impersonators"} with input as {"client": client, "account": acct}
}

test_impersonation_denied_when_account_is_disabled if {
	acct := object.union(account, {"disabled": true})
	not impersonation.valid with input as {"client": client, "account": acct}
	impersonation.problems == {"account User1 is disabled"} with input as {"client": client, "account": acct}
}

test_impersonation_denied_when_client_is_disabled if {
	not impersonation.valid with input as {"client": object.union(client, {"disabled": true}), "account": account}
}

test_failed_impersonation_has_no_subject if {
	impersonation.subject == "" with input as {"client": client}
}
