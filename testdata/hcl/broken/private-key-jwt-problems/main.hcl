# A secret on a private_key_jwt client, and no key.
client "keyless" {
  auth_method = "private_key_jwt"
  secret { hash = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5" }
}

# A private key pasted by mistake (a throwaway test key), both forms in
# one block, a JWK given as pem, an RSA key too short, one key twice.
client "bad-keys" {
  auth_method = "private_key_jwt"
  public_key {
    pem = <<-EOT
      -----BEGIN EC PRIVATE KEY-----
      MHcCAQEEIMEoBysivzigOvUY+5kWA78O1FCy00JUYgF4xU6JwyE5oAoGCCqGSM49
      AwEHoUQDQgAEn6UDHw1neGtdTwnjEZAlbwG3pHob83WxDcU+ee5qLRVZWXqjODBU
      8hhuADgx6qGy8ezNZT3DBmiW+mitPl/BVw==
      -----END EC PRIVATE KEY-----
    EOT
  }
  public_key {
    pem = "-----BEGIN PUBLIC KEY-----"
    jwk = "{}"
  }
  public_key {
    pem = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"Tk9WbFwemtKgoi2fU3EZSh0HeQOn2D15KLJIg358EWY\"}"
  }
  public_key {
    pem = <<-EOT
      -----BEGIN PUBLIC KEY-----
      MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQClCxAIjMoZRFH3TtAG4k2GP503
      PVIvzoMzh+fJ+1XLJ4kRgk04qnVBCphosR3Ux/dLRdkD0+eTiNS2T/nBz7oOR8s6
      kcMoiQmQLfDjQ/jYDUOf4c7/VYfLxyjMsynzT78GqOqifMjfC1OTLzWc2yUCPtfd
      220P88xeX0JbgMvdcwIDAQAB
      -----END PUBLIC KEY-----
    EOT
  }
  public_key {
    jwk = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"Tk9WbFwemtKgoi2fU3EZSh0HeQOn2D15KLJIg358EWY\"}"
  }
  public_key {
    jwk = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"Tk9WbFwemtKgoi2fU3EZSh0HeQOn2D15KLJIg358EWY\"}"
  }
  public_key {}
}

# A key on a client that uses a secret.
client "secret-and-key" {
  secret { hash = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5" }
  public_key {
    jwk = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"Tk9WbFwemtKgoi2fU3EZSh0HeQOn2D15KLJIg358EWY\"}"
  }
}
