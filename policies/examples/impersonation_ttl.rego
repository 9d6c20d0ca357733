# Example rule of your own: short-lived tokens for impersonation.
#
# Copy this file into your --policies folder. A token whose subject is not
# its client (the client acts as an account, RFC 8693 act) lives at most
# 15 minutes; the lifetime is never made longer than the defaults give.
# It reads data.tollgate.token.grant: what the default policies grant.
package tollgate.rules

import data.tollgate.token.grant

max_ttl := 900 if grant.subject != input.client.id
