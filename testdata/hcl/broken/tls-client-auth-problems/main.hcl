# No certificate named, and a secret nothing would check.
client "nameless" {
  auth_method = "tls_client_auth"
  secret { hash = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5" }
}

# Two names in one block, and a second block.
client "two-names" {
  auth_method = "tls_client_auth"
  certificate {
    subject_dn = "CN=two-names"
    san_dns    = "two-names.example"
  }
  certificate { san_dns = "other.example" }
}

client "bad-ip" {
  auth_method = "tls_client_auth"
  certificate { san_ip = "10.0.0.300" }
}

client "relative-uri" {
  auth_method = "tls_client_auth"
  certificate { san_uri = "device/42" }
}

client "not-a-dn" {
  auth_method = "tls_client_auth"
  certificate { subject_dn = "device-42" }
}

client "empty-block" {
  auth_method = "tls_client_auth"
  certificate {}
}

# A certificate on a client that uses a secret.
client "secret-and-certificate" {
  secret { hash = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5" }
  certificate { san_dns = "secret.example" }
}
