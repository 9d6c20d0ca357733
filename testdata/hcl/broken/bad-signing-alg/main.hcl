settings {
  signing_alg = "HS256"
}
