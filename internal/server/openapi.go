package server

import (
	_ "embed" // the OpenAPI document is embedded
	"net/http"
)

// Edit docs/openapi.json; `make generate` copies it here for embedding.
//go:generate cp ../../docs/openapi.json openapi.json

// openAPIDocument is the OpenAPI 3.1 description of every route of this API, served at
// GET /v1/openapi.json. It is a copy of docs/openapi.json; openapi_test.go keeps the two equal
// and checks that every registered route is described.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI answers GET /v1/openapi.json without authentication: the document describes the
// API and holds no data of this service.
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, openAPIDocument)
}
