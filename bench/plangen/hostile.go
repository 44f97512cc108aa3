package plangen

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Hostile describes a plan built to make a checker use memory: Tokens tokenguard_api_token
// creates, each with Scopes scopes, Triggers rotation_triggers entries and a purpose of
// PurposeBytes bytes. Scopes are short ("s1234"), so each costs a few bytes of JSON and
// a decoded value far larger than that.
type Hostile struct {
	Tokens       int
	Scopes       int
	Triggers     int
	PurposeBytes int
}

// WriteHostile streams the plan of h to w (resource_changes only, with a timestamp: the
// sections a checker skips are not what is attacked) and returns its size in bytes.
func WriteHostile(w io.Writer, h Hostile) (int, error) {
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<20)}
	p := func(s string) { _, _ = io.WriteString(cw, s) }
	p(`{"format_version":"1.2","terraform_version":"1.11.4","resource_changes":[`)
	purpose := "Reads invoice totals " + strings.Repeat("x", max(0, h.PurposeBytes-21))
	for i := range h.Tokens {
		if i > 0 {
			p(",")
		}
		p(fmt.Sprintf(`{"address":"tokenguard_api_token.t%d","mode":"managed","type":"tokenguard_api_token","name":"t%d","provider_name":"registry.terraform.io/tokenguard/tokenguard","change":{"actions":["create"],"before":null,"after":{"name":"t%d","owner":"team-billing","purpose":%q,"data_categories":["commercial"],"audiences":["billing-api"],"ttl":"30d","rotation":{"interval":"7d","overlap":"1h"},"scopes":[`, i, i, i, purpose))
		for s := range h.Scopes {
			if s > 0 {
				p(",")
			}
			p(fmt.Sprintf(`"s%d"`, s))
		}
		p(`],"rotation_triggers":{`)
		for s := range h.Triggers {
			if s > 0 {
				p(",")
			}
			p(fmt.Sprintf(`"k%d":"v"`, s))
		}
		p(`}},"after_unknown":{"id":true,"secret":true},"before_sensitive":false,"after_sensitive":{"secret":true}}}`)
	}
	p(`],"timestamp":"` + Timestamp.Format("2006-01-02T15:04:05Z") + `","complete":true,"errored":false}` + "\n")
	if err := cw.w.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, cw.err
}
