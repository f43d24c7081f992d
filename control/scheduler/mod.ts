/**
 * The scheduler: pure placement logic (`schedulePod` over a `Snapshot`, with its filters and
 * scorers, VolumeBinding among them) and the `Scheduler` loop that binds pending pods.
 *
 * @module
 */

export * from "./filters.ts";
export * from "./pod_info.ts";
export * from "./schedule.ts";
export * from "./scheduler.ts";
export * from "./scores.ts";
export * from "./snapshot.ts";
export * from "./volume_binding.ts";
export * from "./volumes.ts";
export * from "./bench.ts";
