package provider

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestSDKLogsToQuiet_onlyWhenNobodyReadsThem(t *testing.T) {
	all := []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"}
	cases := []struct {
		name    string
		debug   bool
		environ []string
		want    []string
	}{
		{"plain plugin run", false, []string{"PATH=/usr/bin", "TF_IN_AUTOMATION=1", "TF_LOG="}, all},
		{"TF_LOG set", false, []string{"TF_LOG=trace"}, nil},
		{"provider logs asked for", false, []string{"TF_LOG_PROVIDER=debug"}, nil},
		{"per-provider level", false, []string{"TF_LOG_PROVIDER_TOKENGUARD=info"}, nil},
		{"explicit SDK level kept", false, []string{"TF_LOG_SDK_FRAMEWORK=trace"}, nil},
		{"acceptance test log file", false, []string{"TF_ACC_LOG_PATH=/tmp/acc.log"}, nil},
		{"debug mode: stderr is the console", true, []string{"PATH=/usr/bin"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sdkLogsToQuiet(tc.debug, tc.environ); !slices.Equal(got, tc.want) {
				t.Fatalf("sdkLogsToQuiet = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestQuietUnreadSDKLogs_setsTheSDKLevelsOff(t *testing.T) {
	for _, name := range sdkLogLevelVars {
		t.Setenv(name, "") // restored after the test, like every variable set here
	}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "TF_LOG") || strings.HasPrefix(name, "TF_ACC_LOG") {
			t.Setenv(name, "") // empty counts as unset
		}
	}
	QuietUnreadSDKLogs(false)
	for _, name := range sdkLogLevelVars {
		if got := os.Getenv(name); got != "off" {
			t.Errorf("%s = %q, want off", name, got)
		}
	}
}
