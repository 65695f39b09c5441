"""Policy engines behind the PolicyEngine port: embedded Rego (regorus) and an OPA server."""
