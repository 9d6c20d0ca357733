# Example rule of your own: freeze a scope on a server.
#
# Copy this file into your --policies folder and name your server and
# scope. While it is there, no token carries write:ledger for ledger-api:
# a client that asks for it by name gets invalid_scope, and one that asks
# for no scope (everything it may get) gets its other scopes. It acts on
# the server however the request names it (audience, resource, its id or
# audience as a scope token), and on a token for several servers at once.
package tollgate.rules

withhold contains {"server": "ledger-api", "scope": "write:ledger"}
