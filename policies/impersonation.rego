# Impersonation: a client acting as a service account.
#
# It is valid only when the client names the account in impersonate, the
# account lists the client in impersonators, and neither is disabled. The
# token's subject is then the account and the Go side adds act.sub = client
# (RFC 8693).
package tollgate.impersonation

default impersonating := false

impersonating := input.client.impersonate != ""

default valid := false

# Both sides agree and neither is disabled.
valid if {
	impersonating
	input.account.id == input.client.impersonate
	input.client.id in input.account.impersonators
	not input.client.disabled
	not input.account.disabled
}

# Why an impersonation is not valid, one reason per broken condition.
problems contains sprintf("account %s does not exist", [input.client.impersonate]) if {
	impersonating
	not input.account
}

problems contains sprintf("account %s does not list client %s in its impersonators", [input.account.id, input.client.id]) if {
	impersonating
	not input.client.id in input.account.impersonators
}

problems contains sprintf("account %s is disabled", [input.account.id]) if {
	impersonating
	input.account.disabled
}

# The token's subject: the account when impersonating, else the client.
default subject := ""

subject := input.account.id if {
	valid
} else := input.client.id if {
	not impersonating
}
