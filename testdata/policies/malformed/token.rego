# The decision breaks the contract (allow is a string): the server must fail closed.
package tollgate.token

decision := {"allow": "yes", "audience": ["x"]}
