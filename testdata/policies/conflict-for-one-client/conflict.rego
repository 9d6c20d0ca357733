# Added to the default policies, this breaks the decision for one client
# only: for client-0042 the decision would have two values, which OPA
# refuses at evaluation (eval_conflict_error). It compiles, and every
# other client is decided as before.
package tollgate.token

decision := {"allow": false, "reasons": ["frozen"]} if input.client.id == "client-0042"
