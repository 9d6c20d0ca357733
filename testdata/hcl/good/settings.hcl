settings {
  issuer            = "https://auth.example.com"
  default_token_ttl = "30m"
  max_token_ttl     = "12h"
  signing_alg       = "EdDSA"
}
