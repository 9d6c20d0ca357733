server "api" {
  scopes    = ["read", "read"]
  token_ttl = "forever"
}
group "a" {}
