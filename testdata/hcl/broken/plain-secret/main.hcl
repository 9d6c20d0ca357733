client "a" {
  secret { hash = "hunter2-my-real-secret" }
}
