package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
)

// clientFlags are the flags of every command that talks to a running service.
type clientFlags struct {
	endpoint, token, caCert string
	insecureHTTP            bool
}

func (f *clientFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.endpoint, "endpoint", "http://127.0.0.1:8790", "token service URL (env TOKENGUARD_ENDPOINT)")
	pf.StringVar(&f.token, "token", "", "API credential; prefer the environment variable, flags show in process lists (env TOKENGUARD_TOKEN)")
	pf.StringVar(&f.caCert, "ca-cert", "", "PEM file of a CA to trust for the endpoint (env TOKENGUARD_CA_CERT)")
	pf.BoolVar(&f.insecureHTTP, "insecure-http", false, "allow plain HTTP to a non-loopback endpoint (env TOKENGUARD_INSECURE_HTTP)")
}

// newClient builds the API client from the flags, falling back to the environment.
func (f *clientFlags) newClient(cmd *cobra.Command) (*client.Client, error) {
	if err := applyEnv(cmd, map[string]string{
		"endpoint": "TOKENGUARD_ENDPOINT", "token": "TOKENGUARD_TOKEN", "ca-cert": "TOKENGUARD_CA_CERT",
		"insecure-http": "TOKENGUARD_INSECURE_HTTP",
	}); err != nil {
		return nil, err
	}
	if f.token == "" {
		return nil, withCode(ExitUsage, errors.New("no API credential: set TOKENGUARD_TOKEN (or --token)"))
	}
	cfg := client.Config{Endpoint: f.endpoint, Token: f.token, InsecureHTTP: f.insecureHTTP, UserAgent: "tokenguard-cli/" + Version}
	if f.caCert != "" {
		pem, err := os.ReadFile(f.caCert)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--ca-cert: %w", err))
		}
		cfg.CACertPEM = string(pem)
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return c, nil
}

// apiFailure gives an API error its exit code: a refused request (4xx) is an input error,
// anything else (5xx, network) a failure.
func apiFailure(err error) error {
	var re *client.ResponseError
	if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
		return withCode(ExitUsage, err)
	}
	return withCode(ExitFindings, err)
}

// connectFunc builds the API client of a command from its client flags and the environment;
// commands call it after their own checks, so a usage error is reported before a missing
// credential.
type connectFunc func() (*client.Client, error)

// connector is the connectFunc of the client flags f of cmd.
func (f *clientFlags) connector(cmd *cobra.Command) connectFunc {
	return func() (*client.Client, error) { return f.newClient(cmd) }
}
