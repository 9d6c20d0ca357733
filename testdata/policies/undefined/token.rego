# The decision is undefined for every input: the server must fail closed.
package tollgate.token

decision := {"allow": true, "audience": ["x"]} if input.client.id == "nobody-has-this-id"
