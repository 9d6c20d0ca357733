# Added to the default policies, this breaks the decision of every client
# in group auditors, or acting as an account in it: the decision would
# have two values (eval_conflict_error). Reload tests use it to show that a
# reload decides again a client whose group or account changed.
package tollgate.token

decision := {"allow": false, "reasons": ["audited"]} if {
	some g in array.concat(input.client.groups, object.get(input, ["account", "groups"], []))
	g.id == "auditors"
}
