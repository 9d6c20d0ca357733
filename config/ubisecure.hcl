# The single-application and impersonation cases.

# client1 is a single application: it has no access to any server, so its
# tokens are for itself (aud = client1).
client "client1" {
  name = "Single application"

  # demo secret: demo-client1-secret-not-for-production (demo only)
  secret { hash = "sha256:9c281c8c1d19f574f380ba544638fbfa2ade4eb5fbeb0445f2766e247a3e45d5" }
}

server "Server1" {
  scopes = ["read"]

  # demo secret: demo-Server1-secret-not-for-production (demo only)
  secret { hash = "sha256:20ad8459a26791c585a116fba010090823c008d5ed8d67fa1c64a2d6f3ce1c3f" }
}

server "Server2" {
  scopes = ["read", "write"]

  # demo secret: demo-Server2-secret-not-for-production (demo only)
  secret { hash = "sha256:446c01815a68182df11a2f16258e6a8db31bbdd0ae08f8b39b53ff439fed05a8" }
}

# Client1 acts as the service account User1. What it gets is the
# intersection of its own access and User1's (through User1's groups):
# read on Server1 and read on Server2, never write.
client "Client1" {
  name        = "Client acting as User1"
  impersonate = "User1"

  # demo secret: demo-Client1-secret-not-for-production (demo only)
  secret { hash = "sha256:7af68b353cc63cf4a481342f81fe0aaf937ee9724f62dcc4f064977d51d36694" }

  access "Server1" {
    scopes = ["read"]
  }
  access "Server2" {
    scopes = ["read", "write"]
  }
}

account "User1" {
  impersonators = ["Client1"]
  attributes = {
    department = "logistics"
    email      = "user1@example.com"
  }
}

group "Group1" {
  members = ["User1"]
  access "Server1" {
    scopes = ["read"]
  }
}

group "Group2" {
  members = ["User1"]
  access "Server2" {
    scopes = ["read"]
  }
}
