# SLA rules: deadline, QoS by risk band, priority alignment, timeout margin, SLA budget.
# At stage "plan" (C1) a deadline in the past refuses the plan; at later stages it is only a
# warning, because a dependant ticket is dispatched after its siblings and the SLA monitor, not
# the policy, owns late tickets.
package neuralhive.orchestrator.sla_enforcement

import rego.v1

expected_priority := {"critical": "CRITICAL", "high": "HIGH", "medium": "NORMAL", "low": "LOW"}

strict_bands := {"critical", "high"}

default_config := {
	"max_deadline_horizon_ms": 86400000,
	"min_timeout_to_estimate_ratio": 1.5,
	"sla_budget_warning_threshold": 0.2,
}

config := object.union(default_config, object.get(input, "config", {}))

tickets := object.get(input, "tickets", [])

stage := object.get(input, "stage", "plan")

violations contains v if {
	stage == "plan"
	some t in tickets
	t.sla.deadline <= input.now_ms
	v := violation("deadline_in_past", "high", sprintf(
		"task %s: deadline %d is not after now (%d)", [t.task_id, t.sla.deadline, input.now_ms],
	))
}

warnings contains msg if {
	stage != "plan"
	some t in tickets
	t.sla.deadline <= input.now_ms
	msg := sprintf("task %s: deadline already passed", [t.task_id])
}

violations contains v if {
	some t in tickets
	t.sla.deadline - input.now_ms > config.max_deadline_horizon_ms
	v := violation("deadline_beyond_horizon", "medium", sprintf(
		"task %s: deadline is more than %d ms ahead", [t.task_id, config.max_deadline_horizon_ms],
	))
}

violations contains v if {
	some t in tickets
	t.risk_band in strict_bands
	not strict_qos(t.qos)
	v := violation("qos_insufficient", "critical", sprintf(
		"task %s: %s risk requires EXACTLY_ONCE + STRONG, got %s + %s",
		[t.task_id, t.risk_band, t.qos.delivery_mode, t.qos.consistency],
	))
}

violations contains v if {
	some t in tickets
	want := expected_priority[t.risk_band]
	t.priority != want
	v := violation("priority_misaligned", "medium", sprintf(
		"task %s: priority %s does not match %s risk (expected %s)",
		[t.task_id, t.priority, t.risk_band, want],
	))
}

violations contains v if {
	some t in tickets
	estimate := object.get(t, "estimated_duration_ms", null)
	is_number(estimate)
	t.sla.timeout_ms < config.min_timeout_to_estimate_ratio * estimate
	v := violation("timeout_below_estimate", "medium", sprintf(
		"task %s: timeout %d ms is below %v x the estimate %d ms",
		[t.task_id, t.sla.timeout_ms, config.min_timeout_to_estimate_ratio, estimate],
	))
}

# The SLA budget is only known when the SLA management system answered; absent means unknown.
violations contains v if {
	remaining := input.sla_budget.remaining
	remaining <= 0
	v := violation("sla_budget_exhausted", "high", sprintf(
		"the SLA error budget is exhausted (remaining %v)", [remaining],
	))
}

warnings contains msg if {
	remaining := input.sla_budget.remaining
	remaining > 0
	remaining < config.sla_budget_warning_threshold
	msg := sprintf("the SLA error budget is low (remaining %v)", [remaining])
}

strict_qos(qos) if {
	qos.delivery_mode == "EXACTLY_ONCE"
	qos.consistency == "STRONG"
}

violation(rule, severity, message) := {"rule": rule, "severity": severity, "message": message}

decision := {
	"allow": count(violations) == 0,
	"violations": [v | some v in violations],
	"warnings": [w | some w in warnings],
	"flags": {},
}
