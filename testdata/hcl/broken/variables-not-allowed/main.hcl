client "a" {
  secret { hash = var.secret }
}
