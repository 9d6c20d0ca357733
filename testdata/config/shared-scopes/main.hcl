# Two servers define the same scope names; shop may write on orders only.
# A token naming both servers must never carry write: billing would read
# it as its own (SPEC §4).

server "orders" {
  audience = "https://orders.example"
  scopes   = ["read", "write"]

  # test secret: demo-orders-secret-not-for-production
  secret { hash = "sha256:9e3f7faed619e3b4c0aa5e464ec635b0273a4c1f2f7f5ce28bed471a906ff7e3" }
}

server "billing" {
  audience = "https://billing.example"
  scopes   = ["read", "write"]

  # test secret: demo-billing-secret-not-for-production
  secret { hash = "sha256:672ece9b65973ab29ea0fe984c3da41b8b58e20421afaeef5b5d14300c8c9fe3" }
}

client "shop" {
  # test secret: demo-shop-secret-not-for-production
  secret { hash = "sha256:11b5cffcc4a43de672a4836a797af079999565d6ea9ded502aa7ac3201adc9ba" }

  access "orders" {
    scopes = ["read", "write"]
  }
  access "billing" {
    scopes = ["read"]
  }
}
