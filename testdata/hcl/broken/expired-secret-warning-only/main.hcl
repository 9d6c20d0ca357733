client "a" {
  secret {
    hash      = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5"
    not_after = "2020-01-01T00:00:00Z"
  }
}
client "b" {
  auth_method = "private_key_jwt"
  public_key {
    jwk       = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"Tk9WbFwemtKgoi2fU3EZSh0HeQOn2D15KLJIg358EWY\"}"
    not_after = "2020-01-01T00:00:00Z"
  }
}
