# An audience may equal no other declaration's id: a client whose id is a
# server's audience could introspect that server's tokens.
server "ledger" {
  audience = "reporting"
  scopes   = ["read"]
}

server "orders" {
  audience = "svc-reports"
}

server "billing" {
  audience = "finance"
}

client "reporting" {
  secret { hash = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5" }
  access "ledger" { scopes = ["read"] }
}

account "svc-reports" {}

group "finance" {
  members = ["reporting"]
}
