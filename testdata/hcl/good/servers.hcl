server "world-mappers" {
  audience  = "https://api.worldmappers.example"
  scopes    = ["read:directions", "read:geocode"]
  token_ttl = "30m"
  secret { hash = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" }
}

server "ledger-api" {
  scopes = ["read:ledger", "write:ledger"]
}
