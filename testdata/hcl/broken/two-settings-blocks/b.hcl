settings {
  max_token_ttl = "2h"
}
