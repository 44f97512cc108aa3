# METADATA
# title: Service endpoint uses HTTPS
# description: >-
#   Tokens and their secrets travel between Terraform and the token service.
#   A finding is raised for each tokenguard provider configuration
#   (input.plan.provider_endpoints) whose endpoint is plain http:// to a host
#   other than loopback (127.0.0.0/8, ::1, localhost). Setting insecure_http
#   on the provider does not make it compliant. Endpoints unknown until apply
#   (null) are not evaluated. The message names the host only, never the
#   full URL, which may carry credentials.
# custom:
#   id: CPRA-SEC-002
#   severity: error
#   provisions:
#     - cite: "Cal. Civ. Code 1798.100(e)"
#       paraphrase: "Reasonable security procedures and practices protect personal information from unauthorized access."
#     - cite: "Cal. Civ. Code 1798.81.5(b)"
#       paraphrase: "A business that owns, licenses or maintains personal information maintains reasonable security procedures and practices."
#     - cite: "11 CCR 7123(c)(2)"
#       paraphrase: "The cybersecurity audit assesses encryption of personal information in transit."
#   adds: "Refuses plain HTTP to a non-loopback endpoint."
#   remediation: "Point the provider endpoint at the service's https:// address; keep plain http only for a service on the same machine (127.0.0.1, ::1, localhost)."
#   scope: plan
#   applies_to: [tokenguard]
#   gates: [check]
package tokenguard.cpra.sec_endpoint

deny contains f if {
	some e in object.get(input.plan, "provider_endpoints", [])
	is_tokenguard_provider(e.provider)
	endpoint := e.endpoint
	is_string(endpoint)
	startswith(lower(trim_space(endpoint)), "http://")
	h := host(trim_space(endpoint))
	not loopback(h)
	addr := provider_address(e)
	f := {
		"msg": sprintf("provider %s sends tokens over plain HTTP to %q, which is not a loopback host%s", [addr, h, insecure_note(e)]),
		"field": concat(".", [addr, "endpoint"]),
		"address": addr,
	}
}

is_tokenguard_provider(p) if p == "tokenguard"

is_tokenguard_provider(p) if endswith(p, "/tokenguard/tokenguard")

provider_address(e) := concat(".", ["provider.tokenguard", e.alias]) if {
	is_string(e.alias)
	e.alias != ""
} else := "provider.tokenguard"

insecure_note(e) := " (insecure_http = true does not make it compliant)" if e.insecure_http == true

else := ""

# host extracts the host of an http:// URL: no user information, no port,
# IPv6 literals without brackets, lower case.
host(url) := h if {
	rest := substring(url, count("http://"), -1)
	authority := split(split(split(rest, "/")[0], "?")[0], "#")[0]
	parts := split(authority, "@")
	hostport := parts[count(parts) - 1]
	h := lower(strip_port(hostport))
}

strip_port(hp) := trim_prefix(split(hp, "]")[0], "[") if startswith(hp, "[")

else := split(hp, ":")[0]

loopback(h) if h == "localhost"

loopback(h) if h == "::1"

loopback(h) if h == "0:0:0:0:0:0:0:1"

loopback(h) if regex.match(`^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`, h)
