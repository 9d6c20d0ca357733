# The Auth0-style case: the Gift Deliveries service calls the World Mappers
# API, asking for it by its audience URL with a JSON body.

server "world-mappers" {
  audience  = "https://api.worldmappers.example"
  scopes    = ["read:directions", "read:geocode"]
  token_ttl = "30m"

  # demo secret: demo-world-mappers-secret-not-for-production (demo only)
  secret { hash = "sha256:364581b20aa525f2e6fbcc85e34d2e750e0eca2ef237652d03ac00c38356c116" }
}

client "gift-deliveries" {
  name        = "Gift Deliveries Service"
  auth_method = "client_secret_post" # the secret travels in the body, as Auth0 clients send it

  # demo secret: demo-gift-deliveries-secret-not-for-production (demo only)
  secret { hash = "sha256:2e3bfc857955eb3cbd4d261b1246d8dd10746d5fdce7f650623c10f2f42ad02a" }

  # It may read directions, not geocode: asking for read:geocode is invalid_scope.
  access "world-mappers" {
    scopes = ["read:directions"]
  }
}
