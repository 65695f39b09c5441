# Resource limits per ticket and per plan (ARCHITECTURE.md "Fixed rules").
# Input: see services/policy.py (tickets, concurrent_tickets, config).
package neuralhive.orchestrator.resource_limits

import rego.v1

max_timeout_ms := {"critical": 7200000, "high": 3600000, "medium": 1800000, "low": 900000}

max_retries := {"critical": 5, "high": 3, "medium": 2, "low": 1}

# No allowed_capabilities by default: every capability is allowed until a list is configured
# (OPA_ALLOWED_CAPABILITIES); an empty list means the same.
default_config := {
	"max_cpu": "4000m",
	"max_memory": "8Gi",
	"max_concurrent_tickets": 100,
}

config := object.union(default_config, object.get(input, "config", {}))

tickets := object.get(input, "tickets", [])

concurrent := object.get(input, "concurrent_tickets", count(tickets))

violations contains v if {
	some t in tickets
	limit := max_timeout_ms[t.risk_band]
	t.sla.timeout_ms > limit
	v := violation("timeout_exceeds_max", "high", sprintf(
		"task %s: timeout %d ms exceeds the %s-risk maximum of %d ms",
		[t.task_id, t.sla.timeout_ms, t.risk_band, limit],
	))
}

violations contains v if {
	some t in tickets
	limit := max_retries[t.risk_band]
	t.sla.max_retries > limit
	v := violation("retries_exceed_max", "medium", sprintf(
		"task %s: %d retries exceed the %s-risk maximum of %d",
		[t.task_id, t.sla.max_retries, t.risk_band, limit],
	))
}

allowed_capabilities := object.get(config, "allowed_capabilities", [])

violations contains v if {
	count(allowed_capabilities) > 0
	some t in tickets
	some capability in t.required_capabilities
	not capability in allowed_capabilities
	v := violation("capability_not_allowed", "high", sprintf(
		"task %s: capability %q is not in the allowed list %v",
		[t.task_id, capability, allowed_capabilities],
	))
}

violations contains v if {
	some t in tickets
	cpu := object.get(t.parameters, "cpu", "0")
	units.parse(cpu) > units.parse(config.max_cpu)
	v := violation("cpu_exceeds_limit", "high", sprintf(
		"task %s: cpu %s exceeds the limit %s", [t.task_id, cpu, config.max_cpu],
	))
}

violations contains v if {
	some t in tickets
	memory := object.get(t.parameters, "memory", "0")
	units.parse_bytes(memory) > units.parse_bytes(config.max_memory)
	v := violation("memory_exceeds_limit", "high", sprintf(
		"task %s: memory %s exceeds the limit %s", [t.task_id, memory, config.max_memory],
	))
}

violations contains v if {
	concurrent > config.max_concurrent_tickets
	v := violation("too_many_concurrent_tickets", "high", sprintf(
		"%d concurrent tickets exceed the maximum of %d", [concurrent, config.max_concurrent_tickets],
	))
}

warnings contains msg if {
	some t in tickets
	not max_timeout_ms[t.risk_band]
	msg := sprintf("task %s: unknown risk band %q, limits not checked", [t.task_id, t.risk_band])
}

violation(rule, severity, message) := {"rule": rule, "severity": severity, "message": message}

decision := {
	"allow": count(violations) == 0,
	"violations": [v | some v in violations],
	"warnings": [w | some w in warnings],
	"flags": {},
}
