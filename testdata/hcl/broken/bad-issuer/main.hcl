settings {
  issuer = "auth.example.com/?tenant=1"
}
