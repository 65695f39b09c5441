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
	f := flags({"namespace": "production"})
	f.intelligent_scheduler
}

test_intelligent_scheduler_for_high_risk if {
	f := flags({"namespace": "sandbox", "tickets": [{"risk_band": "high"}]})
	f.intelligent_scheduler
}

test_no_intelligent_scheduler_elsewhere if {
	f := flags({"namespace": "sandbox", "tickets": [{"risk_band": "low"}]})
	not f.intelligent_scheduler
}

test_intelligent_scheduler_switched_off if {
	doc := {"namespace": "default", "config": {"intelligent_scheduler_enabled": false}}
	f := flags(doc)
	not f.intelligent_scheduler
}

test_burst_capacity_for_premium_under_load_threshold if {
	f := flags({"context": {"tenant_tier": "premium", "load": 0.5}})
	f.burst_capacity
}

test_no_burst_capacity_over_load_threshold if {
	f := flags({"context": {"tenant_tier": "premium", "load": 0.9}})
	not f.burst_capacity
}

test_no_burst_capacity_for_standard_tenant if {
	f := flags({"context": {"tenant_tier": "standard", "load": 0.1}})
	not f.burst_capacity
}

test_predictive_allocation_above_accuracy if {
	f := flags({"context": {"model_accuracy": 0.9}})
	f.predictive_allocation
}

test_no_predictive_allocation_at_accuracy_threshold if {
	f := flags({"context": {"model_accuracy": 0.85}})
	not f.predictive_allocation
}

test_auto_scaling_in_business_hours if {
	f := flags({"now_ms": tuesday_2pm, "context": {"queue_depth": 150}})
	f.auto_scaling
}

test_no_auto_scaling_on_weekend if {
	f := flags({"now_ms": sunday_2pm, "context": {"queue_depth": 150}})
	not f.auto_scaling
}

test_no_auto_scaling_with_short_queue if {
	f := flags({"now_ms": tuesday_2pm, "context": {"queue_depth": 50}})
	not f.auto_scaling
}
