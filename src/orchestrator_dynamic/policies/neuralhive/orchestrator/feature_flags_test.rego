package neuralhive.orchestrator.feature_flags

import rego.v1

# 2023-11-14 (a Tuesday) 14:00 UTC, and the Sunday after at the same hour.
tuesday_2pm := 1699970400000

sunday_2pm := 1700402400000

flags(doc) := f if {
	f := decision.flags with input as doc
}

test_always_allows if {
	decision.allow with input as {"tickets": []}
}

test_intelligent_scheduler_for_allowed_namespace if {
	flags({"namespace": "production"}).intelligent_scheduler
}

test_intelligent_scheduler_for_high_risk if {
	flags({"namespace": "sandbox", "tickets": [{"risk_band": "high"}]}).intelligent_scheduler
}

test_no_intelligent_scheduler_elsewhere if {
	not flags({"namespace": "sandbox", "tickets": [{"risk_band": "low"}]}).intelligent_scheduler
}

test_intelligent_scheduler_switched_off if {
	doc := {"namespace": "default", "config": {"intelligent_scheduler_enabled": false}}
	not flags(doc).intelligent_scheduler
}

test_burst_capacity_for_premium_under_load_threshold if {
	flags({"context": {"tenant_tier": "premium", "load": 0.5}}).burst_capacity
}

test_no_burst_capacity_over_load_threshold if {
	not flags({"context": {"tenant_tier": "premium", "load": 0.9}}).burst_capacity
}

test_no_burst_capacity_for_standard_tenant if {
	not flags({"context": {"tenant_tier": "standard", "load": 0.1}}).burst_capacity
}

test_predictive_allocation_above_accuracy if {
	flags({"context": {"model_accuracy": 0.9}}).predictive_allocation
}

test_no_predictive_allocation_at_accuracy_threshold if {
	not flags({"context": {"model_accuracy": 0.85}}).predictive_allocation
}

test_auto_scaling_in_business_hours if {
	flags({"now_ms": tuesday_2pm, "context": {"queue_depth": 150}}).auto_scaling
}

test_no_auto_scaling_on_weekend if {
	not flags({"now_ms": sunday_2pm, "context": {"queue_depth": 150}}).auto_scaling
}

test_no_auto_scaling_with_short_queue if {
	not flags({"now_ms": tuesday_2pm, "context": {"queue_depth": 50}}).auto_scaling
}
