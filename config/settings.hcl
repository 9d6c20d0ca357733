# Server-wide settings. Without an issuer, tokens carry "http://" + the
# listen address (http://127.0.0.1:8080 under `make run`).
settings {
  default_token_ttl = "1h"
  max_token_ttl     = "24h"
  signing_alg       = "ES256"
}
