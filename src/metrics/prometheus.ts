/**
 * What every `/metrics` endpoint shares, the worker's and the API's: the
 * exposition format's content type, and the job-duration buckets (the same
 * on both sides, so per-worker and cluster-wide histograms line up).
 *
 * @module
 */

/** The Prometheus text format's content type. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Job duration buckets in seconds. Includes 2.5 (the required metrics'
 * example: `..._bucket{...,le="2.5"}`) and reaches the 5-minute job
 * execution timeout.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
];
