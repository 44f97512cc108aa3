# After import `secret` is null: the service keeps only a keyed hash of it. The first
# rotation_triggers recorded after the import do not rotate; change them later to rotate a
# new secret into state.
import {
  to = tokenguard_api_token.billing_export
  id = "tok_0123456789ABCDEF"
}
