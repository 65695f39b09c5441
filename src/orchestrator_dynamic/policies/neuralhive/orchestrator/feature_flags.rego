# Feature flags that steer the scheduler. Never refuses anything: allow is always true.
package neuralhive.orchestrator.feature_flags

import rego.v1

default_config := {
	"intelligent_scheduler_enabled": true,
	"intelligent_scheduler_namespaces": ["default", "production"],
	"burst_load_threshold": 0.8,
	"ml_accuracy_threshold": 0.85,
	"autoscale_queue_threshold": 100,
	"business_hours": {"start": 9, "end": 18},
}

config := object.union(default_config, object.get(input, "config", {}))

context := object.get(input, "context", {})

tickets := object.get(input, "tickets", [])

namespace := object.get(input, "namespace", "default")

default intelligent_scheduler := false

intelligent_scheduler if {
	config.intelligent_scheduler_enabled == true
	namespace in config.intelligent_scheduler_namespaces
}

intelligent_scheduler if {
	config.intelligent_scheduler_enabled == true
	some t in tickets
	t.risk_band in {"critical", "high"}
}

default burst_capacity := false

burst_capacity if {
	context.tenant_tier == "premium"
	context.load < config.burst_load_threshold
}

default predictive_allocation := false

predictive_allocation if context.model_accuracy > config.ml_accuracy_threshold

default auto_scaling := false

auto_scaling if {
	context.queue_depth > config.autoscale_queue_threshold
	business_hours
}

# Business hours in UTC, Monday to Friday, from the evaluation clock (input.now_ms).
business_hours if {
	ns := input.now_ms * 1000000
	[hour, _, _] := time.clock([ns, "UTC"])
	not time.weekday(ns) in {"Saturday", "Sunday"}
	hour >= config.business_hours.start
	hour < config.business_hours.end
}

decision := {
	"allow": true,
	"violations": [],
	"warnings": [],
	"flags": {
		"intelligent_scheduler": intelligent_scheduler,
		"burst_capacity": burst_capacity,
		"predictive_allocation": predictive_allocation,
		"auto_scaling": auto_scaling,
	},
}
