/**
 * Names every part of the tracing code agrees on.
 *
 * @module
 */

/** The instrumentation scope of every span jobqueue makes. */
export const TRACER_NAME = "jobqueue";
