package accessreport

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func TestRender_erasedAnswerSaysOnlyTheErasureInEveryFormat(t *testing.T) {
	a := wire.AccessAnswer{Subject: "customer:1", AnsweredAt: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC), AuditSeq: 9,
		Erased: &wire.AccessErasure{ErasedAt: time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC), DeletionRequestID: "del_abc"},
		Tokens: []wire.AccessToken{}}
	for _, f := range Formats() {
		var buf bytes.Buffer
		if err := Render(&buf, a, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out := buf.String()
		if f != FormatJSON && (!strings.Contains(out, "erased on 2030-01-15") || !strings.Contains(out, "holds nothing else")) {
			t.Errorf("%s answer does not state the erasure:\n%s", f, out)
		}
		if f == FormatJSON && (!strings.Contains(out, `"deletion_request_id": "del_abc"`) || !strings.Contains(out, `"tokens": []`)) {
			t.Errorf("json answer = %s, want the erasure and no tokens", out)
		}
		if strings.Contains(out, "tokens were bound") || strings.Contains(out, "No token") {
			t.Errorf("%s erased answer says something about tokens:\n%s", f, out)
		}
	}
}

func TestRender_noTokensAndUnknownFormat(t *testing.T) {
	a := wire.AccessAnswer{Subject: "customer:2", Tokens: []wire.AccessToken{}}
	var buf bytes.Buffer
	if err := Render(&buf, a, FormatMarkdown); err != nil || !strings.Contains(buf.String(), "No token of this service was ever bound") {
		t.Errorf("markdown of an empty answer: %v\n%s", err, buf.String())
	}
	if err := Render(&buf, a, "pdf"); err == nil || !strings.Contains(err.Error(), "markdown, json, html") {
		t.Errorf("unknown format: error %v, want one listing the formats", err)
	}
}
