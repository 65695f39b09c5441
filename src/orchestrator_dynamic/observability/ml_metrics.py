"""Prometheus metrics of the ML side, with the specification's names (its eight
``orchestration_ml_*`` plus the allocation quality score), and two of our own the alert rules
need: training runs by result and the time of the last successful one."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREDICTION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.5, 2.0, 5.0)
# actual - predicted, in ms: negative when the ticket finished sooner than predicted.
ERROR_BUCKETS = (
    -600_000,
    -120_000,
    -30_000,
    -10_000,
    -1_000,
    0,
    1_000,
    10_000,
    30_000,
    120_000,
    600_000,
)

PREDICTIONS = Counter(
    "orchestration_ml_predictions_total",
    "Predictions made, by model type (duration, anomaly) and status (success, heuristic, error)",
    ["model_type", "status"],
)
PREDICTION_DURATION = Histogram(
    "orchestration_ml_prediction_duration_seconds",
    "Time to predict one ticket (features, duration and anomaly)",
    ["model_type"],
    buckets=PREDICTION_BUCKETS,
)
PREDICTION_ERROR = Histogram(
    "orchestration_ml_prediction_error",
    "Actual minus predicted duration of completed tickets, in milliseconds",
    ["model_type"],
    buckets=ERROR_BUCKETS,
)
ANOMALIES = Counter(
    "orchestration_ml_anomalies_detected_total",
    "Tickets flagged anomalous at allocation, by kind",
    ["anomaly_type"],
)
MODEL_LOAD_ERRORS = Counter(
    "orchestration_ml_model_load_errors_total",
    "Failures to load a model from the registry (the last loaded one stays in use)",
    ["model_name"],
)
TRAINING_DURATION = Histogram(
    "orchestration_ml_training_duration_seconds",
    "Time to fit one model",
    ["model_type"],
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800),
)
MODEL_ACCURACY = Gauge(
    "orchestration_ml_model_accuracy",
    "Held-out metrics of the last trained models (mae_pct, r2, precision, recall, f1, ...); "
    "live_mae_pct from completed tickets",
    ["model_name", "metric_type"],
)
FEATURE_EXTRACTION_ERRORS = Counter(
    "orchestration_ml_feature_extraction_errors_total",
    "Tickets whose features could not be extracted (the heuristic answered)",
)
ALLOCATION_QUALITY = Histogram(
    "orchestration_scheduler_allocation_quality_score",
    "How well an allocation went, 0..1: success, and the duration against the prediction",
    buckets=(0.1, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
TRAINING_RUNS = Counter(
    "orchestration_ml_training_runs_total",
    "Training runs, by result (trained, skipped, failed)",
    ["result"],
)
LAST_TRAINING = Gauge(
    "orchestration_ml_last_training_timestamp_seconds",
    "When the models were last trained successfully (unix seconds)",
)
DRIFT_RETRAININGS = Counter(
    "orchestration_ml_drift_retrainings_total",
    "Training runs started because the live MAE% drifted above ML_DURATION_ERROR_THRESHOLD",
)
