package oauth

// GrantTypeClientCredentials is the one grant tollgate serves (RFC 6749
// §4.4): the token endpoint accepts it, the policy input names it, the
// metadata lists it.
const GrantTypeClientCredentials = "client_credentials"
