# After import `secret` is null: the service keeps only a keyed hash of it.
import {
  to = tokenguard_api_token.billing_export
  identity = {
    id = "tok_0123456789ABCDEF"
  }
}
