package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// TestSchema_dataSubjectsSensitiveEverywhere: data_subjects is personal information, so every
// schema that carries it marks it sensitive (issue 14 point 10).
func TestSchema_dataSubjectsSensitiveEverywhere(t *testing.T) {
	ctx := context.Background()
	var rs resource.SchemaResponse
	NewAPITokenResource().Schema(ctx, resource.SchemaRequest{}, &rs)
	var ds datasource.SchemaResponse
	NewAPITokenDataSource().Schema(ctx, datasource.SchemaRequest{}, &ds)
	var es ephemeral.SchemaResponse
	NewAPITokenEphemeralResource().Schema(ctx, ephemeral.SchemaRequest{}, &es)
	for name, a := range map[string]interface{ IsSensitive() bool }{
		"resource":           rs.Schema.Attributes["data_subjects"],
		"data source":        ds.Schema.Attributes["data_subjects"],
		"ephemeral resource": es.Schema.Attributes["data_subjects"],
	} {
		if a == nil || !a.IsSensitive() {
			t.Errorf("data_subjects of the %s is not sensitive", name)
		}
	}
}
