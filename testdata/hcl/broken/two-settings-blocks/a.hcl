settings {
  default_token_ttl = "1h"
}
