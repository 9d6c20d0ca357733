client "a" {
  name = "No secret"
}
