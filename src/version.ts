/**
 * The release of this service: one constant, read by the worker registry
 * (each worker process reports it), the OpenAPI document and the CLI.
 *
 * @module
 */

/** This release's version (semver). */
export const VERSION = "1.0.0";
