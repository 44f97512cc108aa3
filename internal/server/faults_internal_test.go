package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// TestFaultAnswer_mapsEachFaultToItsStatusCodeAndRetryAfter checks the answer of each
// database fault and of a passed request deadline, wrapped as the stores and handlers wrap
// them, and that any other error stays a 500 without Retry-After.
func TestFaultAnswer_mapsEachFaultToItsStatusCodeAndRetryAfter(t *testing.T) {
	driver := errors.New("driver says no")
	cases := []struct {
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{fmt.Errorf("creating: %w", store.Fault(store.ErrStorageFull, driver)), 507, "storage_full", "30"},
		{fmt.Errorf("creating: %w", store.Fault(store.ErrUnavailable, driver)), 503, "unavailable", "2"},
		{fmt.Errorf("creating: %w", store.Fault(store.ErrBusy, driver)), 503, "unavailable", "1"},
		{fmt.Errorf("reading: %w", context.DeadlineExceeded), 503, "unavailable", "1"},
		{driver, 500, "internal", ""},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		writeFault(rec, httptest.NewRequest(http.MethodGet, "/v1/tokens", nil), tc.err)
		if rec.Code != tc.status || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: %d Retry-After %q, want %d %q", tc.err, rec.Code, rec.Header().Get("Retry-After"), tc.status, tc.retryAfter)
		}
		if want := `"code":"` + tc.code + `"`; !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%v: body %s, want %s", tc.err, rec.Body, want)
		}
		if rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%v: Content-Type %q", tc.err, rec.Header().Get("Content-Type"))
		}
	}
	if got := store.Fault(store.ErrBusy, driver); got.Error() != driver.Error() || !errors.Is(got, driver) {
		t.Errorf("store.Fault changed the message or lost the cause: %v", got)
	}
}
