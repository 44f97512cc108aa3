package accessreport

import (
	_ "embed"
	"html/template"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

//go:embed access.html.tmpl
var htmlSource string

// htmlTemplate is parsed once; html/template escapes every value from the service.
var htmlTemplate = template.Must(template.New("access").Parse(htmlSource))

// htmlView is what the template reads: the answer with its sentences decided here.
type htmlView struct {
	Subject    string
	AnsweredAt string
	AuditSeq   int64
	Erasure    string
	Summary    string
	Tokens     []htmlToken
}

type htmlToken struct {
	wire.AccessToken
	Others, Created, Expires, Rotated, Revoked, LastUsed string
	Categories, Audiences, Scopes                        string
	Events                                               []htmlEvent
	Active, Inactive                                     int64
}

type htmlEvent struct {
	At, Event, Particulars, Hash string
	Seq                          int64
}

func view(a wire.AccessAnswer) htmlView {
	v := htmlView{Subject: a.Subject, AnsweredAt: stamp(&a.AnsweredAt), AuditSeq: a.AuditSeq, Summary: summarySentence(a)}
	if a.Erased != nil {
		v.Erasure = erasureSentence(a.Erased)
		return v
	}
	for _, t := range a.Tokens {
		ht := htmlToken{AccessToken: t, Others: othersText(t.OtherSubjects), Created: stamp(&t.CreatedAt),
			Expires: stamp(&t.ExpiresAt), Rotated: stamp(t.RotatedAt), Revoked: stamp(t.RevokedAt), LastUsed: stamp(t.LastUsedAt),
			Categories: list(t.DataCategories), Audiences: list(t.Audiences), Scopes: list(t.Scopes)}
		ht.Active, ht.Inactive = totalUses(t.Usage)
		for _, e := range t.History {
			at := e.At
			ht.Events = append(ht.Events, htmlEvent{At: stamp(&at), Event: e.Event, Particulars: eventText(e), Seq: e.AuditSeq, Hash: shortHash(e.AuditHash)})
		}
		v.Tokens = append(v.Tokens, ht)
	}
	return v
}
