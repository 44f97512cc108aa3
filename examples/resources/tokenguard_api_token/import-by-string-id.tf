# After import `secret` is null: the service keeps only a keyed hash of it. The first
# rotation_triggers recorded after the import do not rotate; change them later to rotate a
# new secret into state. Write the resource block with the token's data_subjects:
# terraform plan -generate-config-out writes them as null (they are sensitive), which the
# provider refuses for a token bound to subjects. tokenguard inventory --generate-imports
# imports.tf --generate-config-out tokens.tf writes the import and resource blocks of every
# token Terraform does not manage yet, subjects included.
import {
  to = tokenguard_api_token.billing_export
  id = "tok_0123456789ABCDEF"
}
