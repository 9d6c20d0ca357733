server "a" { audience = "https://api.example" }
server "b" { audience = "https://api.example" }
server "c" { audience = "a" }
