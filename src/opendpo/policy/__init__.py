"""Privacy as code: the policy schema, loader, validation, versions and renderings."""
