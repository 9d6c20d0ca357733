server "api" {}
group "g" {
  members = ["ghost", "api"]
}
