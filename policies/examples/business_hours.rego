# Example rule of your own: tokens for a server only within a time window.
#
# Copy this file into your --policies folder and name your server and
# window. Tokens for ledger-api are issued Monday to Friday, 06:00 to
# 20:00 UTC; outside, the request is denied (unauthorized_client) with
# the message below. input.servers holds every server the request names,
# however it names it, so no shape of request gets around it.
#
# A policy that reads input.request.time decides differently from one
# moment to the next, so tollgate does not cache its decisions.
package tollgate.rules

deny contains "ledger-api tokens are issued Monday to Friday, 06:00 to 20:00 UTC" if {
	input.servers["ledger-api"]
	not within_business_hours
}

# Within the window. A request without a readable time is outside it.
within_business_hours if {
	ns := time.parse_rfc3339_ns(input.request.time)
	[hour, _, _] := time.clock(ns)
	hour >= 6
	hour < 20
	not time.weekday(ns) in {"Saturday", "Sunday"}
}
