# The base of the plan tests: a small organisation as a pull request
# finds it. Each test edits a copy of it (or its policies) and runs
# tollgate plan against it. Every client's secret is the test fixture
# evfvf_0ALlyAhHJxhzxXu1zknhhHQgEFsQzf1al5iyA (used nowhere else).

settings {
  default_token_ttl = "1h"
  max_token_ttl     = "24h"
}

server "ledger-api" {
  audience = "https://ledger.example"
  scopes   = ["read:ledger", "write:ledger"]
}

server "world-mappers" {
  audience  = "https://api.worldmappers.example"
  scopes    = ["read:directions", "read:geocode"]
  token_ttl = "30m"
}

client "gift-deliveries" {
  secret { hash = "sha256:ffe2676820dba1760cca3813c1798d694f7f6bcc16daca9f002efe4590eb5f0f" }
  access "world-mappers" {
    scopes = ["read:directions"]
  }
}

client "billing-batch" {
  secret { hash = "sha256:ffe2676820dba1760cca3813c1798d694f7f6bcc16daca9f002efe4590eb5f0f" }
  access "ledger-api" {
    scopes = ["read:ledger", "write:ledger"]
  }
}

client "report-cli" {
  secret { hash = "sha256:ffe2676820dba1760cca3813c1798d694f7f6bcc16daca9f002efe4590eb5f0f" }
  access "ledger-api" {
    scopes = ["read:ledger", "write:ledger"]
  }
  impersonate = "svc-reports"
}

account "svc-reports" {
  impersonators = ["report-cli"]
}

group "finance-readers" {
  members = ["svc-reports"]
  access "ledger-api" {
    scopes = ["read:ledger"]
  }
}
