client "a" {
  secret { hash = "sha256:abc123" }
}
