# The fleet's settings: every replica must put the same iss in its tokens,
# the URL clients and resource servers reach it by (the load balancer), or
# a token issued at one replica would not introspect at another.
settings {
  issuer            = "http://localhost:8080"
  default_token_ttl = "1h"
  max_token_ttl     = "24h"
  signing_alg       = "ES256"
}
