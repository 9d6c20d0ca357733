client "b" {
  secret { hash = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5" }
  auth_method = "client_secret_jwt"
}
