client "gift-deliveries" {
  name        = "Gift Deliveries Service"
  auth_method = "client_secret_post"
  secret {
    hash      = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    not_after = "2099-06-30T00:00:00Z"
  }
  secret {
    hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$9NK0Y2VgrpJ9cr37YZ2v3yGlBnGfcZqvDnX5sWd4B5E"
  }
  access "world-mappers" {
    scopes = ["read:directions"]
  }
  access "ledger-api" {
    scopes = []
  }
  token_ttl  = "15m"
  rate_limit = "600/m"
  disabled   = false
}

client "report-cli" {
  secret { hash = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy" }
  access "ledger-api" { scopes = ["read:ledger"] }
  impersonate = "svc-reports"
  disabled    = true
}

account "svc-reports" {
  impersonators = ["report-cli"]
  attributes = {
    department = "finance"
    level      = 3
    on_call    = true
    tags       = ["a", "b"]
    manager    = { name = "Ada" }
  }
  disabled = false
}

group "finance-readers" {
  members = ["svc-reports", "gift-deliveries"]
  access "ledger-api" { scopes = ["read:ledger"] }
}

client "batch-job" {
  auth_method = "private_key_jwt"
  public_key {
    pem = <<-EOT
      -----BEGIN PUBLIC KEY-----
      MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEn6UDHw1neGtdTwnjEZAlbwG3pHob
      83WxDcU+ee5qLRVZWXqjODBU8hhuADgx6qGy8ezNZT3DBmiW+mitPl/BVw==
      -----END PUBLIC KEY-----
    EOT
    not_after = "2099-06-30T00:00:00Z"
  }
  public_key {
    jwk = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"Tk9WbFwemtKgoi2fU3EZSh0HeQOn2D15KLJIg358EWY\"}"
  }
  access "ledger-api" { scopes = ["read:ledger"] }
}

client "iot-device-42" {
  auth_method = "tls_client_auth"
  certificate { subject_dn = "CN=iot-device-42,O=Example Corp" }
  access "world-mappers" { scopes = ["read:geocode"] }
}
