package tokenguard.cpra.sec_endpoint_test

import data.tokenguard.cpra.sec_endpoint
import data.tokenguard.fixtures

plan_with(endpoints) := {"plan": object.union(fixtures.plan, {"provider_endpoints": endpoints})}

endpoint(url) := {"provider": "tokenguard", "alias": "", "endpoint": url, "insecure_http": false}

test_https_and_loopback_pass if {
	endpoints := [
		endpoint("https://tokens.example.com"),
		endpoint("http://127.0.0.1:8080"),
		endpoint("http://127.10.0.3/v1"),
		endpoint("HTTP://LocalHost:8443/"),
		endpoint("http://[::1]:8080"),
		endpoint(null),
		{"provider": "gitlab", "alias": "", "endpoint": "http://gitlab.example.com", "insecure_http": false},
	]
	count(sec_endpoint.deny) == 0 with input as plan_with(endpoints)
}

test_no_endpoints_pass if {
	count(sec_endpoint.deny) == 0 with input as {"plan": fixtures.plan}
}

test_plain_http_remote_host if {
	r := sec_endpoint.deny with input as plan_with([endpoint("http://tokens.example.com:8080/v1")])
	r == {{
		"msg": `provider provider.tokenguard sends tokens over plain HTTP to "tokens.example.com", which is not a loopback host`,
		"field": "provider.tokenguard.endpoint",
		"address": "provider.tokenguard",
	}}
}

test_alias_and_insecure_flag if {
	e := {"provider": "registry.terraform.io/tokenguard/tokenguard", "alias": "eu", "endpoint": "http://10.0.0.5", "insecure_http": true}
	r := sec_endpoint.deny with input as plan_with([e])
	count(r) == 1
	some f in r
	f.address == "provider.tokenguard.eu"
	f.field == "provider.tokenguard.eu.endpoint"
	contains(f.msg, "insecure_http = true")
}

test_credentials_in_url_are_not_repeated if {
	r := sec_endpoint.deny with input as plan_with([endpoint("http://admin:hunter2@tokens.example.com/")])
	count(r) == 1
	every f in r {
		not contains(f.msg, "hunter2")
		contains(f.msg, `"tokens.example.com"`)
	}
}

test_loopback_look_alikes_are_findings if {
	endpoints := [
		endpoint("http://127.0.0.1.example.com"),
		endpoint("http://localhost.example.com"),
		endpoint("http://[::2]:8080"),
	]
	r := sec_endpoint.deny with input as plan_with(endpoints)
	count(r) == 3
}
