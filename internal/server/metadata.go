package server

import (
	"net/http"
	"strings"
)

// authorizationServerMetadata is the RFC 8414 document of the service's OAuth endpoints.
type authorizationServerMetadata struct {
	Issuer                                    string   `json:"issuer"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	// ResponseTypesSupported is required by RFC 8414; the service runs no authorization
	// endpoint, so it is empty.
	ResponseTypesSupported []string `json:"response_types_supported"`
	ServiceDocumentation   string   `json:"service_documentation,omitempty"`
}

// clientAuthMethods are the client authentication methods of the OAuth endpoints. Bearer is
// not a registered token_endpoint_auth_method value; it is documented in the OpenAPI document.
var clientAuthMethods = []string{"client_secret_basic", "client_secret_post"}

// metadata serves GET /.well-known/oauth-authorization-server (RFC 8414). The issuer is
// Config.Issuer; when that is empty, the URL the request reached (https when it came over
// TLS), so a client that discovers the service through one address gets endpoints on it.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	issuer := s.issuer
	if issuer == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		issuer = scheme + "://" + r.Host
	}
	issuer = strings.TrimSuffix(issuer, "/")
	writeJSON(w, http.StatusOK, authorizationServerMetadata{
		Issuer:                 issuer,
		IntrospectionEndpoint:  issuer + "/v1/introspect",
		RevocationEndpoint:     issuer + "/v1/revoke",
		ResponseTypesSupported: []string{},
		IntrospectionEndpointAuthMethodsSupported: clientAuthMethods,
		RevocationEndpointAuthMethodsSupported:    clientAuthMethods,
		ServiceDocumentation:                      issuer + "/v1/openapi.json",
	})
}
