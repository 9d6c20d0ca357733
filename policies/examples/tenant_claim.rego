# Example rule of your own: a tenant claim from bundle data.
#
# Copy this file into your --policies folder and ship the tenants in the
# bundle's data (tollgate bundle build --data data.json), as
#
#	{"tenants": {"gift-deliveries": "acme", "report-cli": "globex"}}
#
# A client with a tenant gets "tenant": "<its tenant>" in every token; one
# without gets none. The claim is set on what is granted, so it is there
# whatever the request asked.
package tollgate.rules

claims := {"tenant": tenant} if {
	tenant := data.tenants[input.client.id]
}
