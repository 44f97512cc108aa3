package provider

import (
	"os"
	"strings"
)

// sdkLogLevelVars are the variables that set the level of the plugin SDK's own loggers
// (terraform-plugin-go and terraform-plugin-framework). Unset, each logger logs at trace.
var sdkLogLevelVars = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"}

// QuietUnreadSDKLogs turns the plugin SDK's logging off when nothing will read it. Unset, the
// SDK formats every trace line as JSON on the plugin's stderr (dozens per resource and call:
// every attribute, validator and plan modifier), and Terraform parses each line only to drop
// it unless TF_LOG or TF_LOG_PROVIDER asks for provider logs. For 500 tokens that was more
// than half of the provider's plan-time CPU and most of Terraform's.
//
// Nothing changes when any TF_LOG* or TF_ACC_LOG* variable is set (someone asked for logs;
// an explicit TF_LOG_SDK* level is kept), or in debug mode, where the plugin's stderr is the
// developer's console. Call it from main before serving; it only sets environment variables,
// which the SDK reads at every request.
func QuietUnreadSDKLogs(debug bool) {
	for _, name := range sdkLogsToQuiet(debug, os.Environ()) {
		_ = os.Setenv(name, "off") // Setenv fails only on an invalid name; these are constants
	}
}

// sdkLogsToQuiet returns the variables QuietUnreadSDKLogs sets to "off" for environ (in the
// form of os.Environ): none when logs are read, else sdkLogLevelVars.
func sdkLogsToQuiet(debug bool, environ []string) []string {
	if debug {
		return nil
	}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if value != "" && (strings.HasPrefix(name, "TF_LOG") || strings.HasPrefix(name, "TF_ACC_LOG")) {
			return nil
		}
	}
	return sdkLogLevelVars
}
