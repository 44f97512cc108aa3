# Import an existing token by its id. The secret cannot be read back from the service, so
# `secret` is null after import. The first rotation_triggers recorded after the import do not
# rotate; change them later to rotate a new secret into state.
terraform import tokenguard_api_token.billing_export tok_0123456789ABCDEF
