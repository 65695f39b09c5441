# Security: sensitive tickets only to workers cleared for them in the same namespace;
# destructive tasks only with an approval on record.
package neuralhive.orchestrator.security_constraints

import rego.v1

rank := {"PUBLIC": 0, "INTERNAL": 1, "CONFIDENTIAL": 2, "RESTRICTED": 3}

sensitive := {"CONFIDENTIAL", "RESTRICTED"}

tickets := object.get(input, "tickets", [])

namespace := object.get(input, "namespace", "default")

destructive_tasks := object.get(object.get(input, "plan", {}), "destructive_tasks", [])

plan_destructive := object.get(object.get(input, "plan", {}), "is_destructive", false)

approved if input.approval.approved == true

violations contains v if {
	worker := input.worker
	some t in tickets
	t.security_level in sensitive
	rank[object.get(worker, "security_level", "PUBLIC")] < rank[t.security_level]
	v := violation("worker_security_level_insufficient", "critical", sprintf(
		"task %s: %s ticket cannot go to worker %s cleared for %s",
		[t.task_id, t.security_level, worker.worker_id, object.get(worker, "security_level", "PUBLIC")],
	))
}

violations contains v if {
	worker := input.worker
	some t in tickets
	t.security_level in sensitive
	object.get(worker, "namespace", "default") != namespace
	v := violation("worker_namespace_mismatch", "critical", sprintf(
		"task %s: %s ticket in namespace %q cannot go to worker %s in namespace %q",
		[t.task_id, t.security_level, namespace, worker.worker_id, object.get(worker, "namespace", "default")],
	))
}

violations contains v if {
	some t in tickets
	destructive(t)
	not approved
	v := violation("destructive_without_approval", "critical", sprintf(
		"task %s is destructive and no approval is on record", [t.task_id],
	))
}

destructive(t) if t.task_id in destructive_tasks

destructive(_) if plan_destructive == true

destructive(t) if t.metadata.destructive == "true"

warnings contains msg if {
	not input.worker
	some t in tickets
	t.security_level in sensitive
	msg := sprintf("task %s: %s ticket checked without a worker", [t.task_id, t.security_level])
}

violation(rule, severity, message) := {"rule": rule, "severity": severity, "message": message}

decision := {
	"allow": count(violations) == 0,
	"violations": [v | some v in violations],
	"warnings": [w | some w in warnings],
	"flags": {},
}
