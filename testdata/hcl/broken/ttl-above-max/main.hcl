settings {
  max_token_ttl = "1h"
}
server "api" {
  token_ttl = "2h"
}
